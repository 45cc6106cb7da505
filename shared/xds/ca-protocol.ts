// The CA service (gRPC unary, JSON messages): a proxy sends a CSR for an identity with its bearer
// token in the `authorization` metadata; the control plane answers with the signed chain and the
// trust bundle, or a clear refusal (UNAUTHENTICATED / PERMISSION_DENIED / INVALID_ARGUMENT).
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { deserializeJson, serializeJson } from './json-codec.js';

export interface CertificateRequest {
  /** PEM PKCS#10 CSR. */
  readonly csr: string;
  /** The SPIFFE identity asked for (`spiffe://td/ns/x/sa/y`). */
  readonly identity: string;
  readonly ttlSeconds?: number;
}

export interface CertificateResponse {
  /** Leaf first, then intermediates. */
  readonly chainPem: string;
  readonly rootsPem: string;
}

const createCertificate: MethodDefinition<CertificateRequest, CertificateResponse> = {
  path: '/ambit.ca.v1.CertificateService/CreateCertificate',
  requestStream: false,
  responseStream: false,
  requestSerialize: serializeJson,
  requestDeserialize: deserializeJson<CertificateRequest>,
  responseSerialize: serializeJson,
  responseDeserialize: deserializeJson<CertificateResponse>,
};

export const caServiceDefinition = { createCertificate } satisfies ServiceDefinition;
