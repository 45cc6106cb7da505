// What a benchmark result file records about the tree it ran from.
import { spawnSync } from 'node:child_process';

/** `git describe --always --dirty` of `repoRoot`, or `unknown` outside a git checkout. */
export function gitCommit(repoRoot: string): string {
  const r = spawnSync('git', ['-C', repoRoot, 'describe', '--always', '--dirty'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}
