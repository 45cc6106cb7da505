// Where a V8 .cpuprofile spends its time, two ways that complement bench/cpu-profile-summary.ts
// (self time per function): self time per module (a file of this project, an npm package, a
// Node internal module, or a native bucket such as "(program)" and "(garbage collector)"), and
// inclusive time per function (the function and everything it called), heaviest first.
// Module loading at start-up can be left out with --skip-startup (frames under the ESM/CJS loaders).
// Usage: node dist/bench/cpu-profile-tree.js [--top N] [--skip-startup] FILE.cpuprofile
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileTree {
  /** Non-idle sampled time, ms. */
  readonly busyMs: number;
  readonly byModule: readonly (readonly [string, number])[];
  readonly inclusive: readonly (readonly [string, number])[];
}

/** A short module name: `waypoint/forwarder.js`, `npm:prom-client`, `node:_http_server`, or the native bucket. */
export function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName || '(native)';
  const plain = url.replace(/^file:\/\//, '');
  const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(plain);
  if (npm) return `npm:${npm[1]}`;
  if (plain.startsWith('node:')) return plain;
  const dist = /\/dist\/(.+)$/.exec(plain);
  return dist ? dist[1]! : plain;
}

const startupFrame = /node:internal\/modules\//;

export function buildProfileTree(p: CpuProfile, opts: { skipStartup?: boolean } = {}): ProfileTree {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const modules = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const [id, t] of self) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') continue;
    const stack: ProfileNode[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur)!);
    if (opts.skipStartup && stack.some((n) => startupFrame.test(n.callFrame.url))) continue;
    busy += t;
    const mod = moduleOf(node.callFrame.url, node.callFrame.functionName);
    modules.set(mod, (modules.get(mod) ?? 0) + t);
    const seen = new Set<string>();
    for (const n of stack) {
      const f = n.callFrame;
      if (f.functionName === '(root)') continue;
      const key = `${f.functionName || '(anonymous)'} ${moduleOf(f.url, f.functionName)}:${f.lineNumber + 1}`;
      if (seen.has(key)) continue; // recursion counts once
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + t);
    }
  }
  const sorted = (m: Map<string, number>): (readonly [string, number])[] => [...m].map(([k, v]) => [k, v / 1000] as const).sort((a, b) => b[1] - a[1]);
  return { busyMs: busy / 1000, byModule: sorted(modules), inclusive: sorted(inclusive) };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, 'skip-startup': { type: 'boolean', default: false } } });
  const top = Number(values.top);
  for (const file of positionals) {
    const tree = buildProfileTree(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, { skipStartup: values['skip-startup'] === true });
    const pct = (ms: number): string => `${((100 * ms) / tree.busyMs).toFixed(1).padStart(5)} %`;
    process.stdout.write(`${file}: ${(tree.busyMs / 1000).toFixed(2)} s busy\n-- self time by module\n`);
    for (const [k, ms] of tree.byModule.slice(0, top)) process.stdout.write(`${pct(ms)}  ${k}\n`);
    process.stdout.write('-- inclusive time by function\n');
    for (const [k, ms] of tree.inclusive.slice(0, top)) process.stdout.write(`${pct(ms)}  ${k}\n`);
  }
}

if (process.argv[1]?.endsWith('cpu-profile-tree.js')) main();
