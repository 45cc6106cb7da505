// `ambit demo`: builds the mesh (demo/demo-mesh.ts), prints its topology, runs the scenarios
// (demo/scenarios.ts) with steady traffic, prints per step the rate, success rate and p50/p99
// latency per edge, what the ztunnels saw of mTLS, and one verdict per scenario. Everything goes
// away at the end, on an error, on Ctrl-C and when `durationS` runs out.
import { netnsSupport } from './netns-support.js';
import { demoAddresses, startDemoMesh, type DemoMesh } from './demo-mesh.js';
import { scenarios, type Scenario, type Step, type Verdict } from './scenarios.js';
import { trafficLines } from './traffic-lines.js';
import type { TrafficSummary } from './traffic-stats.js';

/** One finished step, as the demo printed and judged it. */
export interface StepRecord {
  readonly scenario: string;
  readonly step: Step;
  readonly url: string;
  readonly seconds: number;
  readonly summary: TrafficSummary;
  readonly verdict: Verdict;
}

/**
 * What `npm run bench:demo` (bench/demo.ts) hooks into the same run: the mesh once it is up, and
 * each step's traffic (to measure the mesh's processes around it).
 */
export interface DemoObserver {
  /** Once every process of the mesh is up, before the first step. */
  meshUp?(mesh: DemoMesh): void;
  /** Runs a step's traffic (`send`) and resolves with its summary, unchanged. */
  traffic?(send: () => Promise<TrafficSummary>): Promise<TrafficSummary>;
  /** After each step's lines and verdict are printed. */
  stepDone?(record: StepRecord): void;
}

export interface DemoRunOptions {
  readonly scenario?: string;
  readonly durationS: number;
  /** Non-interactive: no per-second lines. */
  readonly check: boolean;
  readonly out: NodeJS.WritableStream;
  readonly observer?: DemoObserver;
}

/** Seconds reserved out of `--duration` for taking the mesh down. */
const teardownReserveS = 3;

/** The scenarios to run, or an error naming the known ones. */
export function pickScenarios(name: string | undefined): { ok: true; list: readonly Scenario[] } | { ok: false; error: string } {
  if (name === undefined || name === 'all') return { ok: true, list: scenarios };
  const s = scenarios.find((x) => x.name === name);
  return s ? { ok: true, list: [s] } : { ok: false, error: `unknown scenario ${JSON.stringify(name)}; known: ${scenarios.map((x) => x.name).join(', ')}, all` };
}

function topologyLines(): string[] {
  const { nodes, pods, echoService } = demoAddresses;
  return [
    'topology (network namespaces on this machine; mesh files from examples/demo/)',
    `  node-1 ${nodes['node-1']}  ambit controlplane (file source) · ambit ztunnel (iptables capture)`,
    `    pod demo/client  ${pods.client}   steady HTTP traffic to echo.demo (${echoService}:80)`,
    `    pod demo/echo-v1 ${pods['echo-v1']}   HTTP echo, version v1`,
    `  node-2 ${nodes['node-2']}  ambit ztunnel (iptables capture)`,
    `    pod demo/echo-v2 ${pods['echo-v2']}   HTTP echo, version v2`,
    `    pod demo/echo-istio-waypoint ${pods.waypoint}   ambit waypoint for service account echo`,
    `    pod legacy/outsider ${pods.outsider}   not in the mesh (plaintext)`,
    '  path: client -> ztunnel node-1 =HBONE mTLS=> waypoint =HBONE mTLS=> ztunnel of echo-vN -> echo-vN',
  ];
}

/** The config version `who` runs, from its admin /config_dump ('' if it does not answer). */
async function versionOf(mesh: DemoMesh, who: 'waypoint' | 'node-1'): Promise<string> {
  const r = await mesh.probes[who].get('http://127.0.0.1:15000/config_dump', 1000);
  if (!r.ok || r.status !== 200) return '';
  return String((JSON.parse(r.body) as { version?: unknown }).version ?? '');
}

/** Writes `example` and waits until `who` runs a newer config version (at most 5 s). */
async function applyAndWait(mesh: DemoMesh, example: string, who: 'waypoint' | 'node-1'): Promise<void> {
  const before = await versionOf(mesh, who);
  mesh.apply('scenario', example);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && (await versionOf(mesh, who)) === before) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
}

/** What the ztunnels logged since `marks`: connections, and how many of them were HBONE (mTLS). */
function mtlsLine(mesh: DemoMesh, marks: Record<'node-1' | 'node-2', number>): string {
  let hbone = 0;
  let plain = 0;
  const ids = new Set<string>();
  for (const node of ['node-1', 'node-2'] as const) {
    for (const l of mesh.ztunnels[node].find('connection complete', () => true, marks[node])) {
      const viaHbone = l['direction'] === 'outbound' ? l['dst.hbone_addr'] !== undefined : l['src.identity'] !== undefined;
      if (viaHbone) hbone++;
      else plain++;
      if (typeof l['src.identity'] === 'string') ids.add(String(l['src.identity']).replace('spiffe://cluster.local/', ''));
    }
  }
  if (hbone + plain === 0) return 'mTLS   no connection ended in this step (keep-alive connections carry on)';
  return `mTLS   ztunnels logged ${hbone + plain} connection(s): ${hbone} over HBONE mTLS, ${plain} plaintext; identities ${[...ids].sort().join(', ') || '-'}`;
}

async function runStep(mesh: DemoMesh, scenario: string, step: Step, seconds: number, opts: DemoRunOptions): Promise<Verdict> {
  const say = (l: string): void => void opts.out.write(`${l}\n`);
  if (step.apply) await applyAndWait(mesh, step.apply, step.appliedAt ?? 'waypoint');
  const marks = { 'node-1': mesh.ztunnels['node-1'].mark(), 'node-2': mesh.ztunnels['node-2'].mark() };
  const { pods, echoService } = demoAddresses;
  const url = step.from === 'client' ? `http://${echoService}${step.path}` : `http://${pods['echo-v1']}:8080${step.path}`;
  const app = step.from === 'client' ? mesh.client : mesh.outsider;
  say(`  step ${step.label}${step.apply ? ` (wrote examples/demo/${step.apply})` : ''}: GET ${url}${step.headers ? ` ${JSON.stringify(step.headers)}` : ''} at ${step.rps} req/s for ${seconds.toFixed(1)} s`);
  const send = (): Promise<TrafficSummary> => app.traffic(
    { url, rps: step.rps, durationMs: Math.round(seconds * 1000), timeoutMs: 3000, ...(step.headers ? { headers: step.headers } : {}), ...(step.maxInFlight ? { maxInFlight: step.maxInFlight } : {}) },
    (t) => {
      if (!opts.check) say(`    ${t.second}s  ${t.requests} req/s  ${t.requests ? ((t.ok / t.requests) * 100).toFixed(0) : '-'}% 2xx`);
    },
  );
  const summary = await (opts.observer?.traffic ? opts.observer.traffic(send) : send());
  for (const l of trafficLines(summary, step.from)) say(`    ${l}`);
  say(`    ${mtlsLine(mesh, marks)}`);
  const v = step.judge(summary);
  say(`    ${v.ok ? 'ok  ' : 'FAIL'} ${v.text}`);
  opts.observer?.stepDone?.({ scenario, step, url, seconds, summary, verdict: v });
  return v;
}

/** Runs the demo; resolves with the process exit code (0 only if every verdict held). */
export async function runDemo(opts: DemoRunOptions): Promise<number> {
  const say = (l: string): void => void opts.out.write(`${l}\n`);
  const picked = pickScenarios(opts.scenario);
  if (!picked.ok) {
    say(`ambit demo: ${picked.error}`);
    return 2;
  }
  const support = netnsSupport();
  if (!support.ok) {
    say(`ambit demo: cannot build the mesh on this machine: ${support.reason}`);
    say('ambit demo needs Linux, root (e.g. `sudo npm start -- demo`), and the ip, iptables-save and iptables-restore programs (Debian packages iproute2, iptables).');
    return 2;
  }
  const started = Date.now();
  const deadline = started + opts.durationS * 1000;
  say(`ambit demo: building the mesh (${picked.list.map((s) => s.name).join(', ')}; at most ${opts.durationS} s)`);
  let mesh: DemoMesh | undefined;
  const results: { name: string; ok: boolean; text: string }[] = [];
  try {
    mesh = await startDemoMesh();
    opts.observer?.meshUp?.(mesh);
    say(`mesh up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const l of topologyLines()) say(l);
    const steps = picked.list.reduce((n, s) => n + s.steps.length, 0);
    let left = steps;
    for (const scenario of picked.list) {
      say('');
      say(`scenario ${scenario.name}: ${scenario.title}`);
      const verdicts: Verdict[] = [];
      for (const step of scenario.steps) {
        // An equal share of what is left, less ~0.5 s per step for applying config.
        const seconds = Math.max(1, ((deadline - Date.now()) / 1000 - teardownReserveS) / left - 0.5);
        left--;
        verdicts.push(await runStep(mesh, scenario.name, step, seconds, opts));
      }
      const ok = verdicts.every((v) => v.ok);
      results.push({ name: scenario.name, ok, text: verdicts.map((v) => v.text).join('; ') });
    }
  } catch (err) {
    say(`ambit demo: ${(err as Error).message}`);
    results.push({ name: 'mesh', ok: false, text: (err as Error).message.split('\n')[0] ?? '' });
  } finally {
    await mesh?.destroy();
  }
  say('');
  say('verdicts');
  for (const r of results) say(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(15)} ${r.text}`);
  const allOk = results.length > 0 && results.every((r) => r.ok);
  say(`result ${allOk ? 'OK' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s; namespaces, links, rules and processes removed`);
  return allOk ? 0 : 1;
}
