// ControlPlane: the `ambit controlplane` process — a source feeding the ConfigStore, the config
// stream and the CA on one gRPC+TLS port (15012). Owns its CA (loaded from, or created in, a
// directory) and its own serving certificate. The Kubernetes parts (and client-node, ~28 MB of
// heap) are loaded only for the kube source, which also publishes the mesh root as ConfigMap
// ambit-root-cert in every namespace (root-cert-publisher.ts). Optional probes (health-server.ts)
// listen first and turn ready once the first model is compiled and the gRPC port listens.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import grpc from '@grpc/grpc-js';
import { ConfigStore } from '../shared/config/config-store.js';
import { FileSource } from '../shared/config/file-source.js';
import { CertificateAuthority } from '../shared/identity/ca.js';
import { formatIdentity } from '../shared/identity/spiffe.js';
import type { Logger } from '../shared/log.js';
import type { ListenAddress } from '../shared/net/listen-tcp.js';
import { caServiceDefinition } from '../shared/xds/ca-protocol.js';
import { configServiceDefinition } from '../shared/xds/config-protocol.js';
import { controlPlaneIdentity, controlPlaneServerCredentials } from '../shared/xds/credentials.js';
import { CaService } from './ca-service.js';
import { loadBootstrapTokens, type CallerAuthenticator } from './caller-auth.js';
import { ConfigService } from './config-service.js';
import { HealthServer } from './health-server.js';
import type { KubeSource } from './kube-source.js';
import type { RootCertPublisher } from './root-cert-publisher.js';

export interface ControlPlaneOptions {
  readonly source: { readonly kind: 'file'; readonly path: string } | { readonly kind: 'kube'; readonly kubeConfig: KubeConfig };
  readonly listen: string;
  readonly caDir: string;
  readonly trustDomain: string;
  readonly tokensFile?: string;
  readonly logger: Logger;
  /** Where /healthz/ready and /healthz/live listen (none when absent). */
  readonly health?: ListenAddress;
  /** With the kube source: publish ConfigMap ambit-root-cert in every namespace (default true). */
  readonly publishRootCert?: boolean;
}

/** Readiness tasks, in the order start() completes them. */
export const controlPlaneReadiness = { model: 'first model compiled from the source', grpc: 'gRPC port listening' } as const;

export { controlPlaneIdentity };

export class ControlPlane {
  readonly store: ConfigStore;
  private readonly opts: ControlPlaneOptions;
  private server?: grpc.Server;
  private fileSource?: FileSource;
  private kubeSource?: KubeSource;
  private configService?: ConfigService;
  private health?: HealthServer;
  private rootCertPublisher?: RootCertPublisher;
  private readonly pending = new Set<string>(Object.values(controlPlaneReadiness));
  port = 0;
  /** The bound health port (0 without opts.health). */
  healthPort = 0;

  constructor(opts: ControlPlaneOptions) {
    this.opts = opts;
    this.store = new ConfigStore({ trustDomain: opts.trustDomain });
  }

  async start(): Promise<void> {
    const log = this.opts.logger;
    if (this.opts.health) {
      this.health = new HealthServer(() => [...this.pending]);
      this.healthPort = await this.health.listen(this.opts.health);
    }
    const ca = await this.loadOrCreateCa();
    // Serving certificate: long-lived enough for a control plane run (rotation of the serving
    // certificate without restart is not implemented yet).
    const cert = await ca.issue(controlPlaneIdentity(this.opts.trustDomain), { ttlMs: 30 * 86_400_000 });
    const source = this.opts.source;
    if (source.kind === 'file') {
      this.fileSource = new FileSource({ path: source.path, store: this.store, logger: log });
      await this.fileSource.start();
    } else {
      const { KubeSource } = await import('./kube-source.js');
      this.kubeSource = new KubeSource({ kubeConfig: source.kubeConfig, store: this.store, logger: log });
      await this.kubeSource.start();
      if (this.opts.publishRootCert ?? true) {
        const { RootCertPublisher } = await import('./root-cert-publisher.js');
        this.rootCertPublisher = new RootCertPublisher({ kubeConfig: source.kubeConfig, rootsPem: ca.rootsPem, logger: log });
        this.rootCertPublisher.start();
      }
    }
    this.pending.delete(controlPlaneReadiness.model);
    // Bootstrap tokens (if given) are checked first, locally, so they never reach the API server.
    const bootstrap: CallerAuthenticator | undefined = this.opts.tokensFile ? await loadBootstrapTokens(this.opts.tokensFile) : undefined;
    let authenticate: CallerAuthenticator = bootstrap ?? (async () => undefined);
    if (source.kind === 'kube') {
      const { anyOf, tokenReviewAuthenticator } = await import('./token-review.js');
      authenticate = anyOf(...(bootstrap ? [bootstrap] : []), tokenReviewAuthenticator({ kubeConfig: source.kubeConfig, trustDomain: this.opts.trustDomain, logger: log }));
    }
    this.configService = new ConfigService({ store: this.store, logger: log });
    const server = new grpc.Server({ 'grpc.max_send_message_length': 64 * 1024 * 1024 });
    server.addService(configServiceDefinition, this.configService.implementation());
    server.addService(caServiceDefinition, new CaService({ ca, store: this.store, authenticate, logger: log }).implementation());
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.opts.listen, controlPlaneServerCredentials(cert), (err, p) => (err ? reject(err) : resolve(p))));
    this.server = server;
    this.pending.delete(controlPlaneReadiness.grpc);
    log.info({ listen: this.opts.listen, port: this.port, ...(this.health ? { health: this.healthPort } : {}), identity: formatIdentity(cert.identity), source: source.kind === 'file' ? source : { kind: 'kube', server: source.kubeConfig.getCurrentCluster()?.server }, version: this.store.version,
      workloads: this.store.model.workloads.length, services: this.store.model.services.length }, 'control plane ready');
  }

  async stop(): Promise<void> {
    this.fileSource?.close();
    this.kubeSource?.close();
    this.rootCertPublisher?.close();
    this.configService?.close();
    this.pending.add(controlPlaneReadiness.grpc);
    // Subscribed proxies hold their config streams open for ever: tryShutdown() alone would wait
    // for them, so after a short grace period the remaining calls are cancelled (proxies keep
    // their last config and reconnect with backoff).
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    }
    await this.health?.close();
  }

  private async loadOrCreateCa(): Promise<CertificateAuthority> {
    const exists = await access(join(this.opts.caDir, 'ca-key.pem')).then(() => true, () => false);
    if (exists) return CertificateAuthority.loadFromDir(this.opts.caDir, this.opts.trustDomain);
    const ca = await CertificateAuthority.create({ trustDomain: this.opts.trustDomain });
    await ca.saveToDir(this.opts.caDir);
    this.opts.logger.info({ caDir: this.opts.caDir }, 'created a new mesh CA');
    return ca;
  }
}
