// Kube tier helpers: a kubeconfig holding a token for a ServiceAccount (the manifests' RBAC
// identity instead of admin), and `ambit controlplane` as a real process with its JSON log lines
// collected.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CoreV1Api } from '@kubernetes/client-node';
import type { ApiServer } from '../support/kube-apiserver.js';

export const ambitCli = new URL('../../cli/ambit.js', import.meta.url).pathname;

/** Polls fn every 50 ms until it returns a value (not undefined). */
export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Writes a kubeconfig for `namespace/serviceAccount` (a TokenRequest token, API server audience). */
export async function serviceAccountKubeconfig(server: ApiServer, dir: string, namespace: string, serviceAccount: string): Promise<string> {
  const core = server.kubeConfig.makeApiClient(CoreV1Api);
  const minted = await core.createNamespacedServiceAccountToken({ namespace, name: serviceAccount, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const path = join(dir, `${serviceAccount}.kubeconfig`);
  writeFileSync(path, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'sa',
    clusters: [{ name: 'local', cluster: { server: server.kubeConfig.getCurrentCluster()!.server, 'certificate-authority': join(server.stateDir, 'certs', 'apiserver.crt') } }],
    users: [{ name: serviceAccount, user: { token: minted.status!.token } }],
    contexts: [{ name: 'sa', context: { cluster: 'local', user: serviceAccount } }],
  }));
  return path;
}

export interface ControlPlaneProcess {
  readonly proc: ChildProcess;
  readonly logs: Record<string, unknown>[];
  /** Non-JSON output and stderr. */
  readonly other: () => string;
  /** Log lines at warn or above, as short strings. */
  readonly warnings: () => string[];
  waitLog(what: string, pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export function spawnControlPlane(kubeconfigPath: string, args: readonly string[]): ControlPlaneProcess {
  const proc = spawn(process.execPath, [ambitCli, 'controlplane', '--source', 'kube', ...args],
    { env: { ...process.env, KUBECONFIG: kubeconfigPath }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let other = '';
  proc.stderr!.on('data', (c: Buffer) => (other += c.toString('utf8')));
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    try {
      logs.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      other += `${l}\n`;
    }
  });
  const warnings = (): string[] => logs.filter((l) => (l['level'] as number) >= 40).map((l) => `${String(l['msg'])} ${JSON.stringify(l['kind'] ?? l['target'] ?? '')} ${String(l['err'] ?? '')}`);
  return {
    proc, logs, warnings,
    other: () => other,
    waitLog: (what, pred, timeoutMs = 40_000) => waitFor(what, () => {
      if (proc.exitCode !== null) throw new Error(`control plane exited ${proc.exitCode}:\n${other}\n${JSON.stringify(logs.slice(-5))}`);
      return logs.find(pred);
    }, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}; warnings: ${JSON.stringify(warnings().slice(-3))}`);
    }),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
