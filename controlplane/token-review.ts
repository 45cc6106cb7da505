// Kubernetes caller authentication for the CA: a TokenReview (audience `ambit`) turns a projected
// ServiceAccount token into a Caller. A ztunnel account's token must be bound to a pod, and the
// caller's node is that pod's spec.nodeName; a `<gw>-istio-waypoint` account is a waypoint with
// its own SPIFFE identity; every other account is refused. Positive results are cached briefly,
// keyed by a SHA-256 of the token (the token itself is never stored or logged).
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { parseIdentity } from '../shared/identity/spiffe.js';
import type { Logger } from '../shared/log.js';
import type { Caller, CallerAuthenticator } from './caller-auth.js';

export interface TokenReviewOptions {
  readonly kubeConfig: KubeConfig;
  readonly trustDomain: string;
  /** The audience the token must have been minted for. */
  readonly audience?: string;
  /** `<namespace>/<serviceaccount>` of the ztunnel DaemonSet. */
  readonly ztunnelServiceAccounts?: readonly string[];
  readonly logger: Logger;
  /** How long a positive result is reused; 0 disables the cache. */
  readonly cacheMs?: number;
  /** Bound on cached entries (oldest evicted first). */
  readonly cacheMax?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export const podNameExtra = 'authentication.kubernetes.io/pod-name';
const waypointSuffix = '-istio-waypoint';
const saUserPrefix = 'system:serviceaccount:';

const tokenKey = (token: string): string => createHash('sha256').update(token).digest('hex');

/** A short, non-reversible fingerprint for log lines (first 8 hex digits of the SHA-256). */
const fingerprint = (key: string): string => key.slice(0, 8);

export function tokenReviewAuthenticator(opts: TokenReviewOptions): CallerAuthenticator {
  const audience = opts.audience ?? 'ambit';
  const ztunnels = new Set(opts.ztunnelServiceAccounts ?? ['ambit-system/ztunnel']);
  const cacheMs = opts.cacheMs ?? 30_000;
  const cacheMax = opts.cacheMax ?? 10_000;
  const now = opts.now ?? Date.now;
  const log = opts.logger;
  const authn = opts.kubeConfig.makeApiClient(AuthenticationV1Api);
  const core = opts.kubeConfig.makeApiClient(CoreV1Api);
  const cache = new Map<string, { caller: Caller; expires: number }>();
  const inflight = new Map<string, Promise<Caller | undefined>>();

  const refuse = (key: string, reason: string, fields: object = {}): undefined => {
    log.warn({ ...fields, token: fingerprint(key), reason }, 'caller token refused');
    return undefined;
  };

  const review = async (token: string, key: string): Promise<Caller | undefined> => {
    let status;
    try {
      const res = await authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [audience] } } });
      status = res.status;
    } catch (err) {
      // Error bodies from the API server do not echo the token; log only the message/code.
      const e = err as { code?: number; message?: string };
      return refuse(key, `TokenReview failed: ${e.code ?? ''} ${(e.message ?? String(err)).split('\n')[0]?.slice(0, 200)}`.trim());
    }
    if (!status?.authenticated) return refuse(key, `not authenticated${status?.error ? `: ${status.error.slice(0, 200)}` : ''}`);
    if (status.audiences && !status.audiences.includes(audience)) return refuse(key, `audiences ${JSON.stringify(status.audiences)} do not include ${audience}`);
    const username = status.user?.username ?? '';
    const parts = username.startsWith(saUserPrefix) ? username.slice(saUserPrefix.length).split(':') : [];
    if (parts.length !== 2 || !parts[0] || !parts[1]) return refuse(key, 'not a service account token', { username });
    const [namespace, serviceAccount] = parts as [string, string];
    if (ztunnels.has(`${namespace}/${serviceAccount}`)) {
      const podName = status.user?.extra?.[podNameExtra]?.[0];
      if (!podName) return refuse(key, 'ztunnel token is not bound to a pod', { username });
      let nodeName: string | undefined;
      try {
        const pod = await core.readNamespacedPod({ namespace, name: podName });
        // TokenReview already checked the bound pod's uid; a pod of another account is not a ztunnel.
        if (pod.spec?.serviceAccountName !== serviceAccount) return refuse(key, `pod ${namespace}/${podName} does not run as ${serviceAccount}`, { username });
        nodeName = pod.spec?.nodeName;
      } catch (err) {
        const e = err as { code?: number; message?: string };
        return refuse(key, `reading bound pod ${namespace}/${podName} failed: ${e.code ?? ''} ${(e.message ?? String(err)).split('\n')[0]?.slice(0, 200)}`.trim(), { username });
      }
      if (!nodeName) return refuse(key, `bound pod ${namespace}/${podName} is not scheduled to a node`, { username });
      return { kind: 'ztunnel', node: nodeName };
    }
    if (serviceAccount.endsWith(waypointSuffix) && serviceAccount.length > waypointSuffix.length) {
      try {
        return { kind: 'waypoint', identity: parseIdentity(`spiffe://${opts.trustDomain}/ns/${namespace}/sa/${serviceAccount}`) };
      } catch (err) {
        return refuse(key, (err as Error).message, { username });
      }
    }
    return refuse(key, 'service account is neither a ztunnel nor a waypoint', { username });
  };

  return async (token) => {
    if (typeof token !== 'string' || token.length === 0) return undefined;
    const key = tokenKey(token);
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.caller;
    if (hit) cache.delete(key);
    // A burst of requests with one token shares one review.
    const pending = inflight.get(key);
    if (pending) return pending;
    const p = review(token, key).then((caller) => {
      if (caller && cacheMs > 0) {
        if (cache.size >= cacheMax) {
          for (const [k, v] of cache) if (v.expires <= now()) cache.delete(k);
          while (cache.size >= cacheMax) cache.delete(cache.keys().next().value as string);
        }
        cache.set(key, { caller, expires: now() + cacheMs });
      }
      return caller;
    }).finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  };
}

/** Accepts a token if any authenticator does, trying them in order. */
export function anyOf(...authenticators: readonly CallerAuthenticator[]): CallerAuthenticator {
  return async (token) => {
    for (const a of authenticators) {
      const caller = await a(token);
      if (caller) return caller;
    }
    return undefined;
  };
}
