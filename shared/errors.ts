// MeshError: the one error type Ambit throws, with a stable `code` callers and tests match on.
// Denials, missing routes and unhealthy upstreams are return values, not MeshErrors.

export const ErrorCode = {
  InvalidIdentity: 'INVALID_IDENTITY',
  InvalidCertificate: 'INVALID_CERTIFICATE',
  InvalidCsr: 'INVALID_CSR',
  IdentityMismatch: 'IDENTITY_MISMATCH',
  TrustDomainMismatch: 'TRUST_DOMAIN_MISMATCH',
  CertificateExpired: 'CERTIFICATE_EXPIRED',
  CertificateUnavailable: 'CERTIFICATE_UNAVAILABLE',
  CaLoad: 'CA_LOAD',
  HboneConnect: 'HBONE_CONNECT',
  HboneStatus: 'HBONE_STATUS',
  HboneTimeout: 'HBONE_TIMEOUT',
  HboneClosed: 'HBONE_CLOSED',
  Aborted: 'ABORTED',
  /** iptables missing, or no root/CAP_NET_ADMIN: nothing will be captured. */
  CaptureUnavailable: 'CAPTURE_UNAVAILABLE',
  /** iptables ran and refused or failed (bad rule, lock timeout, killed at the timeout). */
  CaptureFailed: 'CAPTURE_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class MeshError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeshError';
    this.code = code;
  }
}

export function isMeshError(err: unknown, code?: ErrorCode): err is MeshError {
  return err instanceof MeshError && (code === undefined || err.code === code);
}
