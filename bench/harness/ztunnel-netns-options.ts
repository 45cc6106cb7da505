// The options of bench/ztunnel-netns.ts (see its header for the usage line), read and checked:
// the per-mode defaults (quick / full), the metric subset, and the ztunnel experiment flags.
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export const metrics = ['rps', 'cps', 'latency', 'bulk'] as const;
export type Metric = (typeof metrics)[number];

export interface Options {
  readonly mode: 'quick' | 'full';
  readonly rounds: number;
  readonly durationS: number;
  readonly latencyS: number;
  readonly latencyRate: number;
  readonly connections: number;
  readonly warmupS: { readonly rps: number; readonly cps: number };
  readonly bulkMiB: number;
  readonly hold: number;
  /** How long the held connections stay open while RSS is sampled. */
  readonly holdS: number;
  /** After the peak, how long the connections stay open before RSS is read again (settled). */
  readonly settleS: number;
  readonly outDir: string;
  readonly cpuProfDir?: string;
  /** Nice value of this process and so of everything it starts (both pairs alike); 0 leaves it. */
  readonly nice: number;
  /** The per-round metrics to run (default all); the summary leaves the others out. */
  readonly metrics: readonly Metric[];
  /** Extra node flags for both ztunnels (e.g. `--heapsnapshot-signal=SIGUSR2`), to experiment. */
  readonly ztunnelNodeArgs: readonly string[];
  /** NAME=VALUE set in both ztunnels' environment only (e.g. MALLOC_ARENA_MAX=2). */
  readonly ztunnelEnv: readonly string[];
  /** Extra `ambit ztunnel` arguments for both ztunnels (e.g. `--hbone-engine=node`). */
  readonly ztunnelArgs: readonly string[];
  /** Also measure the smallest Node mTLS relay pair on the nginx pair's path (info, not judged). */
  readonly nodePair: boolean;
}

export function readOptions(argv: string[], repoRoot: string): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'latency-s': { type: 'string' },
      hold: { type: 'string' },
      'hold-s': { type: 'string' },
      'settle-s': { type: 'string' },
      'bulk-mib': { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'string' },
      nice: { type: 'string', default: '-5' },
      metrics: { type: 'string' },
      'ztunnel-node-arg': { type: 'string', multiple: true },
      'ztunnel-env': { type: 'string', multiple: true },
      'ztunnel-arg': { type: 'string', multiple: true },
      'skip-node-pair': { type: 'boolean', default: false },
    },
  });
  const selected = values.metrics === undefined ? [...metrics] : values.metrics.split(',').map((m) => m.trim());
  for (const m of selected) if (!(metrics as readonly string[]).includes(m)) throw new Error(`--metrics: unknown ${JSON.stringify(m)} (one of ${metrics.join(', ')})`);
  const quick = values.quick === true;
  const num = (v: string | undefined, d: number, min = Number.MIN_VALUE): number => {
    const n = v === undefined ? d : Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`invalid number ${JSON.stringify(v)}`);
    return n;
  };
  const outDir = values.out ?? join(repoRoot, 'bench', 'results');
  return {
    mode: quick ? 'quick' : 'full',
    rounds: Math.round(num(values.rounds, quick ? 2 : 5)),
    durationS: Math.round(num(values.duration, quick ? 2 : 3)),
    latencyS: Math.round(num(values['latency-s'], quick ? 2 : 5)),
    latencyRate: 1000,
    connections: 64,
    warmupS: quick ? { rps: 1, cps: 2 } : { rps: 2, cps: 8 },
    bulkMiB: num(values['bulk-mib'], quick ? 128 : 256),
    hold: Math.round(num(values.hold, 10_000)),
    holdS: num(values['hold-s'], 2),
    settleS: num(values['settle-s'], quick ? 0 : 30, 0),
    outDir,
    nice: Math.round(Number(values.nice)),
    metrics: metrics.filter((m) => selected.includes(m)),
    ztunnelNodeArgs: values['ztunnel-node-arg'] ?? [],
    ztunnelArgs: values['ztunnel-arg'] ?? [],
    nodePair: values['skip-node-pair'] !== true,
    ztunnelEnv: (values['ztunnel-env'] ?? []).map((kv) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(kv)) throw new Error(`--ztunnel-env: expected NAME=VALUE, got ${JSON.stringify(kv)}`);
      return kv;
    }),
    ...(values['cpu-prof'] !== undefined ? { cpuProfDir: values['cpu-prof'] || join(outDir, 'profiles') } : {}),
  };
}
