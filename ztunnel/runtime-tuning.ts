// V8 heap tuning for ztunnel, a process that holds many mostly idle tunnels: a small young
// generation and a tighter old-generation growth keep its RSS close to what is live. Measured
// with bench/ztunnel-netns.ts (bench/README.md, "Memory/CPU tuning"): with 10,000 open
// connections ~175 MB instead of ~200-225 MB, with no measurable cost in vCPU per 1,000 rps.
import v8 from 'node:v8';

/**
 * Node options that only work at start-up (V8 sizes the young generation when it creates the
 * heap): 4 MiB semi-spaces instead of Node 20's 16 MiB, whose young generation otherwise grows to
 * ~32 MiB committed under a burst of new connections and stays there (1 MiB saved 3-5 MB more
 * but cost ~25 % of bulk throughput). Set through NODE_OPTIONS in manifests/base/ztunnel.yaml;
 * bench/ztunnel-netns.ts starts its ztunnels with them.
 */
export const ztunnelNodeOptions = ['--max-semi-space-size=4'] as const;

/**
 * V8 flags read at every full GC, so `ambit ztunnel` sets them itself: the old generation may
 * grow 1.2x past the live size after a full GC (V8 picks 1.1-4x from GC and mutator speed, and
 * with 10,000s of long-lived tunnel objects it picked large factors).
 */
export const ztunnelRuntimeV8Flags = ['--heap-growing-percent=20'] as const;

/**
 * The runtime flags not already given on node's own command line (`execArgv`): an explicit
 * `node --heap-growing-percent=N` wins, so a benchmark can compare against other values.
 */
export function runtimeV8FlagsToSet(execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(flagName).filter((n) => n !== ''));
  return ztunnelRuntimeV8Flags.filter((f) => !given.has(flagName(f)));
}

/** Applies runtimeV8FlagsToSet() to this process; returns the flags it set. */
export function applyRuntimeV8Flags(): string[] {
  const flags = runtimeV8FlagsToSet(process.execArgv, process.env.NODE_OPTIONS);
  for (const f of flags) v8.setFlagsFromString(f);
  return flags;
}

/** `--heap_growing-percent=20` → `heap-growing-percent` (V8 accepts `_` and `-` alike). */
function flagName(arg: string): string {
  if (!arg.startsWith('--')) return '';
  return arg.slice(2).split('=')[0]!.replace(/_/g, '-');
}
