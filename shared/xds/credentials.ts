// TLS for the control plane's gRPC services: the server presents its mesh certificate; proxies
// trust the mesh roots and accept the server only if its SPIFFE identity is the expected one.
import grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Identity } from '../identity/spiffe.js';
import { serverIdentityChecker } from '../identity/tls.js';
import type { WorkloadCertificate } from '../identity/workload-certificate.js';

export function controlPlaneServerCredentials(cert: WorkloadCertificate): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(Buffer.from(cert.rootsPem), [{ cert_chain: Buffer.from(cert.chainPem), private_key: Buffer.from(cert.keyPem) }], false);
}

export function controlPlaneChannelCredentials(rootsPem: string, expected: readonly Identity[]): grpc.ChannelCredentials {
  const check = serverIdentityChecker(expected);
  return grpc.credentials.createSsl(Buffer.from(rootsPem), null, null, {
    checkServerIdentity: (host: string, cert: PeerCertificate) => check(host, cert),
  });
}

/** The control plane's own identity, which proxies expect when they connect to it. */
export function controlPlaneIdentity(trustDomain: string): Identity {
  return { trustDomain, namespace: 'ambit-system', serviceAccount: 'controlplane' };
}
