// Where a proxy (ztunnel or waypoint) gets its model and certificates, from its flags: the
// control plane (config stream + CA over TLS, verified by the mesh roots and the control plane's
// SPIFFE identity, with a bearer token re-read per request) or a local YAML (watched) plus a
// local CA directory. Modules load lazily so each command starts only what it uses.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ConfigStore } from '../shared/config/config-store.js';
import type { CertificateFetcher } from '../shared/identity/cert-store.js';
import type { Logger } from '../shared/log.js';
import type { ConfigClient } from '../shared/xds/config-client.js';
import type { ProxyKind } from '../shared/xds/config-protocol.js';

export interface ProxySourceFlags {
  readonly controlPlane?: string;
  readonly rootCert?: string;
  readonly tokenFile?: string;
  readonly config?: string;
  readonly caDir?: string;
  readonly trustDomain: string;
}

/** A flag's default from the environment (empty counts as unset). */
export const envFlag = (name: string): string | undefined => process.env[name] || undefined;

/** The source flags both proxies take; the help of --token-file and --ca-dir says whose. */
export function addProxySourceOptions(cmd: Command, help: { readonly tokenFile: string; readonly caDir: string }): Command {
  return cmd
    .option('--control-plane <host:port>', 'control plane gRPC address (env AMBIT_CONTROL_PLANE)', envFlag('AMBIT_CONTROL_PLANE'))
    .option('--root-cert <file>', 'mesh root certificate(s) that sign the control plane\'s certificate (env AMBIT_ROOT_CERT)', envFlag('AMBIT_ROOT_CERT'))
    .option('--token-file <file>', help.tokenFile, envFlag('AMBIT_TOKEN_FILE'))
    .option('--config <path>', 'run from a local YAML file or folder (watched) instead of a control plane')
    .option('--ca-dir <dir>', help.caDir)
    .option('--trust-domain <td>', 'SPIFFE trust domain (env TRUST_DOMAIN)', envFlag('TRUST_DOMAIN') ?? 'cluster.local');
}

export type ProxySource =
  | { readonly kind: 'local'; readonly store: ConfigStore; readonly close: () => void; readonly fetchCertificate: CertificateFetcher }
  | { readonly kind: 'control-plane'; readonly client: ConfigClient; readonly fetchCertificate: CertificateFetcher };

export async function openProxySource(o: ProxySourceFlags, proxy: { kind: ProxyKind; node: string }, logger: Logger): Promise<ProxySource> {
  if (!o.config === !o.controlPlane) throw new Error('give exactly one of --control-plane and --config');
  if (o.config) {
    if (!o.caDir) throw new Error(`--config needs --ca-dir (a CA made by \`ambit ca init\`) to sign this ${proxy.kind}'s certificates`);
    const [{ ConfigStore }, { FileSource }, { CertificateAuthority }] = await Promise.all([
      import('../shared/config/config-store.js'), import('../shared/config/file-source.js'), import('../shared/identity/ca.js'),
    ]);
    const ca = await CertificateAuthority.loadFromDir(o.caDir, o.trustDomain);
    const store = new ConfigStore({ trustDomain: o.trustDomain });
    const files = new FileSource({ path: o.config, store, logger });
    await files.start();
    for (const e of store.errors) logger.warn({ error: e }, 'config error');
    return { kind: 'local', store, close: () => files.close(), fetchCertificate: (id) => ca.issue(id) };
  }
  if (!o.rootCert) throw new Error('--control-plane needs --root-cert to verify the control plane');
  if (!o.tokenFile) throw new Error('--control-plane needs --token-file for the CA');
  const [{ ConfigClient }, { CaClient }, { controlPlaneChannelCredentials, controlPlaneIdentity }] = await Promise.all([
    import('../shared/xds/config-client.js'), import('../shared/xds/ca-client.js'), import('../shared/xds/credentials.js'),
  ]);
  const credentials = controlPlaneChannelCredentials(readFileSync(o.rootCert, 'utf8'), [controlPlaneIdentity(o.trustDomain)]);
  const tokenFile = o.tokenFile;
  // Read per request: projected service-account tokens are rotated on disk by the kubelet.
  const token = (): string => readFileSync(tokenFile, 'utf8').trim();
  const client = new ConfigClient({ address: o.controlPlane!, credentials, node: proxy.node, kind: proxy.kind, logger });
  const ca = new CaClient({ address: o.controlPlane!, credentials, token });
  client.start();
  return { kind: 'control-plane', client, fetchCertificate: (id, signal) => ca.fetch(id, signal) };
}
