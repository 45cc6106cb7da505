// Test support: a mesh CA with certificates, an echo backend and an HBONE server on loopback,
// each with a close() that leaves nothing running. Shared by the direct and interop tiers.
import net, { type AddressInfo, type Socket } from 'node:net';
import { CertificateAuthority } from '../../shared/identity/ca.js';
import type { Identity } from '../../shared/identity/spiffe.js';
import type { WorkloadCertificate } from '../../shared/identity/workload-certificate.js';
import { HboneServer, type HboneConnectHandler, type HboneServerOptions } from '../../shared/hbone/server.js';
import { silentLogger } from '../../shared/log.js';

export const trustDomain = 'cluster.local';

export function identity(namespace: string, serviceAccount: string, td = trustDomain): Identity {
  return { trustDomain: td, namespace, serviceAccount };
}

export interface TestMesh {
  readonly ca: CertificateAuthority;
  readonly serverId: Identity;
  readonly clientId: Identity;
  readonly serverCert: WorkloadCertificate;
  readonly clientCert: WorkloadCertificate;
}

export async function createTestMesh(opts: { intermediate?: boolean } = {}): Promise<TestMesh> {
  const ca = await CertificateAuthority.create({ trustDomain, intermediate: opts.intermediate ?? false });
  const serverId = identity('default', 'server');
  const clientId = identity('default', 'client');
  const [serverCert, clientCert] = await Promise.all([ca.issue(serverId), ca.issue(clientId)]);
  return { ca, serverId, clientId, serverCert, clientCert };
}

export interface Listening {
  readonly port: number;
  /** Sockets currently open on the server side. */
  connections(): number;
  close(): Promise<void>;
}

async function listen(server: net.Server, sockets: Set<Socket>): Promise<Listening> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP echo server that keeps half-open connections (it ends when its peer ends). */
export async function startEcho(): Promise<Listening & { received(): number }> {
  const sockets = new Set<Socket>();
  let received = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => { received += d.length; });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  const l = await listen(server, sockets);
  return { ...l, received: () => received };
}

/** The plain handler: connect to the authority on loopback, 503 if that fails. */
export const connectToAuthority: HboneConnectHandler = async (req) => {
  const upstream = net.connect({ host: req.authority.ip, port: req.authority.port, allowHalfOpen: true });
  try {
    await new Promise<void>((resolve, reject) => {
      upstream.once('connect', resolve);
      upstream.once('error', reject);
    });
    upstream.setNoDelay(true);
    return { status: 200, upstream };
  } catch (err) {
    upstream.destroy();
    return { status: 503, reason: `upstream_connect: ${(err as Error).message}` };
  }
};

export async function startHboneServer(cert: WorkloadCertificate, opts: Partial<HboneServerOptions> = {}): Promise<Listening & { hbone: HboneServer }> {
  const hbone = new HboneServer({ trustDomain, logger: silentLogger(), onConnect: connectToAuthority, ...opts });
  const sockets = new Set<Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    hbone.handleSocket(s, cert);
  });
  const l = await listen(server, sockets);
  return {
    ...l,
    hbone,
    close: async () => {
      await hbone.close();
      await l.close();
    },
  };
}

/** Polls `cond` until true or `timeoutMs` passes; returns whether it became true. */
export async function eventually(cond: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}
