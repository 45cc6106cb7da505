// Summarizes V8 .cpuprofile files (from `npm run bench -- --cpu-prof DIR`): self time per
// function, heaviest first, and the share of native work V8 cannot see into ("(program)":
// libuv, nghttp2, OpenSSL and the kernel calls made outside JS frames) and of GC.
// Usage: node dist/bench/cpu-profile-summary.js [--top N] FILE.cpuprofile...
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface FunctionCost {
  readonly name: string;
  readonly selfMs: number;
  readonly share: number;
}

function location(url: string, line: number): string {
  if (!url) return '';
  const file = url.startsWith('node:') ? url : basename(url);
  return ` ${file}:${line + 1}`;
}

/** Self time per function (same name and place merged), idle time left out. */
export function summarizeProfile(p: CpuProfile): { totalMs: number; functions: FunctionCost[] } {
  const keyOf = new Map<number, string>();
  for (const n of p.nodes) keyOf.set(n.id, `${n.callFrame.functionName || '(anonymous)'}${location(n.callFrame.url, n.callFrame.lineNumber)}`);
  const selfUs = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const key = keyOf.get(p.samples[i]!) ?? '(unknown)';
    if (key === '(idle)') continue;
    selfUs.set(key, (selfUs.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const functions = [...selfUs]
    .map(([name, us]) => ({ name, selfMs: us / 1000, share: totalUs ? us / totalUs : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: totalUs / 1000, functions };
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]));
if (isMain) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  for (const file of positionals) {
    const s = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    process.stdout.write(`${file}: ${(s.totalMs / 1000).toFixed(2)} s busy\n`);
    for (const f of s.functions.slice(0, Number(values.top))) {
      process.stdout.write(`  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}\n`);
    }
  }
}
