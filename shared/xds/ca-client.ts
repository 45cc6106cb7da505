// CaClient: fetches workload certificates from the control plane's CA service; its fetch()
// is a CertStore fetcher. The key never leaves the proxy; the returned leaf must carry exactly
// the identity asked for (checked by toWorkloadCertificate).
import grpc, { type ChannelCredentials } from '@grpc/grpc-js';
import { ErrorCode, MeshError } from '../errors.js';
import { createCsr } from '../identity/csr.js';
import { formatIdentity, type Identity } from '../identity/spiffe.js';
import { toWorkloadCertificate, type WorkloadCertificate } from '../identity/workload-certificate.js';
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from './ca-protocol.js';

const CaServiceClient = grpc.makeGenericClientConstructor(caServiceDefinition, 'CertificateService');

type UnaryClient = grpc.Client & {
  createCertificate(req: CertificateRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: CertificateResponse) => void): grpc.ClientUnaryCall;
};

export class CaClient {
  private readonly client: UnaryClient;
  private readonly token: () => string;
  private readonly ttlSeconds: number;

  constructor(opts: { address: string; credentials: ChannelCredentials; token: () => string; ttlSeconds?: number }) {
    this.client = new CaServiceClient(opts.address, opts.credentials) as unknown as UnaryClient;
    this.token = opts.token;
    this.ttlSeconds = opts.ttlSeconds ?? 86_400;
  }

  async fetch(identity: Identity, signal?: AbortSignal): Promise<WorkloadCertificate> {
    const { keyPem, csrPem } = await createCsr(identity);
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${this.token()}`);
    const res = await new Promise<CertificateResponse>((resolve, reject) => {
      const call = this.client.createCertificate({ csr: csrPem, identity: formatIdentity(identity), ttlSeconds: this.ttlSeconds }, md, { deadline: Date.now() + 10_000 }, (err, r) =>
        err || !r ? reject(new MeshError(ErrorCode.CertificateUnavailable, `CA refused ${formatIdentity(identity)}: ${err?.details ?? 'empty response'}`, { cause: err })) : resolve(r));
      signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
    return toWorkloadCertificate(identity, keyPem, res.chainPem, res.rootsPem);
  }

  close(): void {
    this.client.close();
  }
}
