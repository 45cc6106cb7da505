// CaService: signs workload certificates for authenticated proxies. A ztunnel may get a
// certificate only for a service account that has a pod on its own node (checked against the
// model: "a compromised node is not a compromised mesh"); a waypoint only for its own identity.
// Every refusal is a clear gRPC error and a log line.
import grpc, { type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ConfigStore } from '../shared/config/config-store.js';
import { isMeshError } from '../shared/errors.js';
import type { CertificateAuthority } from '../shared/identity/ca.js';
import { formatIdentity, parseIdentity, sameIdentity, type Identity } from '../shared/identity/spiffe.js';
import type { Logger } from '../shared/log.js';
import type { CertificateRequest, CertificateResponse } from '../shared/xds/ca-protocol.js';
import type { Caller, CallerAuthenticator } from './caller-auth.js';

export type CaDecision = { ok: true } | { ok: false; code: grpc.status; reason: string };

/** Pure: may `caller` have a certificate for `identity`, given the model? */
export function authorizeCertificate(caller: Caller, identity: Identity, store: ConfigStore, trustDomain: string): CaDecision {
  if (identity.trustDomain !== trustDomain) return { ok: false, code: grpc.status.PERMISSION_DENIED, reason: `trust domain ${identity.trustDomain} is not ${trustDomain}` };
  if (caller.kind === 'waypoint') {
    return sameIdentity(caller.identity, identity)
      ? { ok: true }
      : { ok: false, code: grpc.status.PERMISSION_DENIED, reason: `waypoint ${formatIdentity(caller.identity)} may only get its own identity` };
  }
  const onNode = store.index.workloadsByNode.get(caller.node) ?? [];
  const hasPod = onNode.some((w) => w.namespace === identity.namespace && w.serviceAccount === identity.serviceAccount);
  return hasPod
    ? { ok: true }
    : { ok: false, code: grpc.status.PERMISSION_DENIED, reason: `no pod of ${identity.namespace}/${identity.serviceAccount} runs on node ${caller.node}` };
}

export class CaService {
  private readonly opts: { ca: CertificateAuthority; store: ConfigStore; authenticate: CallerAuthenticator; logger: Logger };

  constructor(opts: { ca: CertificateAuthority; store: ConfigStore; authenticate: CallerAuthenticator; logger: Logger }) {
    this.opts = opts;
  }

  implementation(): UntypedServiceImplementation {
    return {
      createCertificate: (call: ServerUnaryCall<CertificateRequest, CertificateResponse>, callback: sendUnaryData<CertificateResponse>) => {
        void this.handle(call).then(
          (res) => callback(null, res),
          (err: { code: grpc.status; details: string }) => callback({ code: err.code ?? grpc.status.INTERNAL, details: err.details ?? 'internal error' }),
        );
      },
    };
  }

  private async handle(call: ServerUnaryCall<CertificateRequest, CertificateResponse>): Promise<CertificateResponse> {
    const log = this.opts.logger;
    const refuse = (code: grpc.status, details: string, fields: object = {}): never => {
      log.warn({ ...fields, peer: call.getPeer(), reason: details }, 'certificate refused');
      throw { code, details };
    };
    const header = call.metadata.get('authorization')[0];
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (!token) return refuse(grpc.status.UNAUTHENTICATED, 'missing bearer token');
    const caller = await this.opts.authenticate(token);
    if (!caller) return refuse(grpc.status.UNAUTHENTICATED, 'token not recognised');
    const req = call.request;
    if (typeof req?.csr !== 'string' || typeof req.identity !== 'string') return refuse(grpc.status.INVALID_ARGUMENT, 'request needs csr and identity strings', { caller });
    let identity: Identity;
    try {
      identity = parseIdentity(req.identity);
    } catch (err) {
      return refuse(grpc.status.INVALID_ARGUMENT, (err as Error).message, { caller });
    }
    const decision = authorizeCertificate(caller, identity, this.opts.store, this.opts.ca.trustDomain);
    if (!decision.ok) return refuse(decision.code, decision.reason, { caller, identity: req.identity });
    const ttlMs = typeof req.ttlSeconds === 'number' && req.ttlSeconds > 0 ? req.ttlSeconds * 1000 : undefined;
    try {
      const signed = await this.opts.ca.sign(req.csr, identity, ttlMs ? { ttlMs } : {});
      log.info({ caller, identity: req.identity }, 'certificate issued');
      return signed;
    } catch (err) {
      if (isMeshError(err)) return refuse(grpc.status.INVALID_ARGUMENT, err.message, { caller, identity: req.identity });
      throw err;
    }
  }
}
