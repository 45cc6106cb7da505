// CaptureError: why capture rules could not be read or written — a MeshError with one of the
// two capture codes of shared/errors.ts.
import { ErrorCode, MeshError } from '../../shared/errors.js';

export const CaptureErrorCode = {
  /** iptables is not installed, or the process lacks root/CAP_NET_ADMIN: nothing will be captured. */
  Unavailable: ErrorCode.CaptureUnavailable,
  /** iptables ran and refused or failed (bad rule, lock timeout, killed at the timeout). */
  Failed: ErrorCode.CaptureFailed,
} as const;
export type CaptureErrorCode = (typeof CaptureErrorCode)[keyof typeof CaptureErrorCode];

export class CaptureError extends MeshError {
  declare readonly code: CaptureErrorCode;

  constructor(code: CaptureErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CaptureError';
  }
}

const permissionText = /permission denied|must be root|operation not permitted/i;

/** The error for a command that could not start (spawn error) or exited non-zero. */
export function commandError(file: string, failure: { readonly spawnError: unknown } | { readonly exitCode: number | null; readonly stderr: string }): CaptureError {
  if ('spawnError' in failure) {
    const code = (failure.spawnError as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') {
      return new CaptureError(CaptureErrorCode.Unavailable, `${file} not found: traffic capture needs iptables (Debian package iptables)`, { cause: failure.spawnError });
    }
    return new CaptureError(CaptureErrorCode.Unavailable, `cannot run ${file}: ${String((failure.spawnError as Error | undefined)?.message ?? failure.spawnError)}`, { cause: failure.spawnError });
  }
  const detail = failure.stderr.trim().split('\n').slice(0, 3).join(' / ') || 'no output';
  // `ip netns exec` (the netns tier's runner) reports a missing program itself, with exit 255.
  if (/exec of .* failed: No such file or directory/.test(failure.stderr)) {
    return new CaptureError(CaptureErrorCode.Unavailable, `${file} not found: traffic capture needs iptables (Debian package iptables)`);
  }
  if (permissionText.test(failure.stderr)) {
    return new CaptureError(CaptureErrorCode.Unavailable, `traffic capture needs root or CAP_NET_ADMIN in the node's network namespace: ${file}: ${detail}`);
  }
  const how = failure.exitCode === null ? 'was killed (timeout)' : `exited with code ${failure.exitCode}`;
  return new CaptureError(CaptureErrorCode.Failed, `${file} ${how}: ${detail}`);
}
