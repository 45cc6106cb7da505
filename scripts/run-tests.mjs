#!/usr/bin/env node
// Runs the compiled tests with node's test runner over an explicit file list (Node 20 cannot
// run .ts, and treats every .js under a test/ folder as a test when given a folder).
// Tiers: unit (beside the code), direct (test/direct), interop (test/interop), kube (test/kube),
// netns (test/netns).
// Usage: node scripts/run-tests.mjs [--tier unit|direct|interop|kube|netns]... [extra node --test args]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const args = process.argv.slice(2);
const tiers = [];
const passthrough = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tier') tiers.push(args[++i]);
  else passthrough.push(args[i]);
}

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function tierOf(file) {
  const parts = relative(dist, file).split(sep);
  if (parts[0] !== 'test') return 'unit';
  return parts[1] ?? 'direct';
}

const files = walk(dist).filter((f) => tiers.length === 0 || tiers.includes(tierOf(f))).sort();
if (files.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}
// --test-force-exit: a test file ends when its tests end. Node 20 sometimes keeps a TCP handle of
// an already-destroyed, peer-reset socket active (seen in test/direct/ztunnel-reliability, 1 run in
// 4), which would hold that file's process open for ever; every suite checks its own cleanup.
// And a file run on its own with plain `node --test` (or `node file.js`) may spin at 100 % CPU
// after its last test, in Node's exit-time handle cleanup (node::Environment::CleanupHandles
// looping in uv_run, seen with test/direct/waypoint-authz; a known Node 20 problem, nodejs/node
// #47748): pass --test-force-exit there too. The Ambit processes exit through process.exit().
// --test-concurrency=1: one file at a time on every machine, as on CI's 2 cores (node's default
// there); the netns files build namespaces and demos that must not overlap.
const result = spawnSync(process.execPath, ['--test', '--test-force-exit', '--test-concurrency=1', '--test-reporter=spec', ...passthrough, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
