// The netns tier for capture: real namespaces (two nodes, five pods), ztunnel's CaptureRules
// writing real iptables rules, and small agent processes that report where each connection
// landed and what SO_ORIGINAL_DST (kernelOriginalDst through koffi) said about it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../shared/log.js';
import { CaptureRules, type CaptureRepair } from '../../ztunnel/capture/capture-rules.js';
import { findExecutable } from '../support/required-tools.js';
import { NetnsAgent, type ConnectOutcome } from '../support/netns-agent-client.js';
import { netnsSkip, sweepStaleNamespaces, Topology, type NetnsNode, type NetnsPod } from '../support/netns.js';

const skip = netnsSkip();

const vip = '10.96.0.10';
const ztunnelPorts = [15001, 15006, 15008];

function landed(o: ConnectOutcome, agent: string, listenPort: number, originalDst: string | null, remoteIp?: string): void {
  assert.ok(o.ok, `connection failed: ${o.ok ? '' : o.error}`);
  const r = o.reply;
  const seen = `${r.agent}:${r.listenPort} orig=${r.originalDst ? `${r.originalDst.ip}:${r.originalDst.port}` : 'none'} from ${r.remote.ip}`;
  const want = `${agent}:${listenPort} orig=${originalDst ?? 'none'} from ${remoteIp ?? r.remote.ip}`;
  assert.equal(seen, want);
}

/** iptables-save without comments and counters, for comparing tables. */
function normalized(save: string): string {
  return save
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
    .join('\n');
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not within ${timeoutMs} ms`);
}

describe('node-level capture with iptables REDIRECT in network namespaces', { skip, timeout: 60_000 }, () => {
  let topo: Topology;
  let node1: NetnsNode;
  let node2: NetnsNode;
  const pods: Record<string, NetnsPod> = {};
  const agents: Record<string, NetnsAgent> = {};
  let rules1: CaptureRules;
  let rules2: CaptureRules;
  const repairs: CaptureRepair[] = [];
  let natBefore: string;

  const save = async (node: NetnsNode): Promise<string> => {
    const r = await topo.exec(node.ns, 'iptables-save', ['-t', 'nat']);
    assert.equal(r.exitCode, 0, r.stderr);
    return normalized(r.stdout);
  };
  const ipt = async (node: NetnsNode, ...args: string[]): Promise<void> => {
    const r = await topo.exec(node.ns, 'iptables', ['-w', '-t', 'nat', ...args]);
    assert.equal(r.exitCode, 0, `iptables ${args.join(' ')}: ${r.stderr}`);
  };
  const ip = (name: string): string => pods[name]!.ip;

  before(async () => {
    sweepStaleNamespaces();
    topo = new Topology();
    node1 = topo.addNode('node1', '10.0.0.1');
    node2 = topo.addNode('node2', '10.0.0.2');
    topo.linkNodes('node1', 'node2');
    // a, b enrolled and c not, on node1; d not and e enrolled, on node2.
    for (const [node, name, addr] of [
      ['node1', 'a', '10.244.1.2'],
      ['node1', 'b', '10.244.1.3'],
      ['node1', 'c', '10.244.1.4'],
      ['node2', 'd', '10.244.2.2'],
      ['node2', 'e', '10.244.2.3'],
    ] as const) {
      pods[name] = topo.addPod(node, name, addr);
    }
    // Someone else's nat rule, which capture must leave alone.
    await ipt(node1, '-A', 'POSTROUTING', '-p', 'udp', '--dport', '9999', '-j', 'ACCEPT');
    natBefore = await save(node1);

    const starting = [
      ['node1', node1.ns],
      ['node2', node2.ns],
      ...Object.values(pods).map((p) => [p.name, p.ns] as const),
    ] as const;
    await Promise.all(
      starting.map(async ([name, ns]) => {
        agents[name] = await NetnsAgent.start(topo, ns, name);
      }),
    );
    for (const n of ['node1', 'node2']) for (const port of ztunnelPorts) await agents[n]!.listen(port);
    for (const p of Object.keys(pods)) await agents[p]!.listen(8080);
    // b also listens on 15008, so a missed capture of 15008 shows up as "reached b".
    await agents.b!.listen(15008);

    rules1 = new CaptureRules({ logger: silentLogger(), runner: topo.commandRunner(node1.ns), onRepair: (r) => repairs.push(r) });
    rules2 = new CaptureRules({ logger: silentLogger(), runner: topo.commandRunner(node2.ns) });
    const r1 = await rules1.install([ip('a'), ip('b')]);
    const r2 = await rules2.install([ip('e')]);
    assert.ok(r1.ok && r2.ok, JSON.stringify([r1, r2]));
  });

  after(async () => {
    await rules1?.remove();
    await rules2?.remove();
    await topo?.destroy();
  });

  it("captures an enrolled pod's connection to a service VIP at 15001, original destination the VIP", async () => {
    landed(await agents.a!.connect(vip, 80), 'node1', 15001, `${vip}:80`, ip('a'));
  });

  it('sends pod to pod on one node outbound first', async () => {
    landed(await agents.a!.connect(ip('b'), 8080), 'node1', 15001, `${ip('b')}:8080`, ip('a'));
    landed(await agents.b!.connect(ip('a'), 8080), 'node1', 15001, `${ip('a')}:8080`, ip('b'));
  });

  it('captures plaintext to an enrolled pod at 15006 and HBONE at 15008', async () => {
    landed(await agents.c!.connect(ip('b'), 8080), 'node1', 15006, `${ip('b')}:8080`, ip('c'));
    landed(await agents.c!.connect(ip('b'), 15008), 'node1', 15008, `${ip('b')}:15008`, ip('c'));
  });

  it('captures traffic arriving from another node (REDIRECT to the node link address)', async () => {
    landed(await agents.d!.connect(ip('b'), 8080), 'node1', 15006, `${ip('b')}:8080`, ip('d'));
    landed(await agents.node2!.connect(ip('b'), 15008), 'node1', 15008, `${ip('b')}:15008`, node2.ip);
    landed(await agents.a!.connect(ip('e'), 8080), 'node1', 15001, `${ip('e')}:8080`, ip('a'));
    landed(await agents.d!.connect(ip('e'), 8080), 'node2', 15006, `${ip('e')}:8080`, ip('d'));
  });

  it('leaves node-originated connections alone except HBONE to a local pod', async () => {
    landed(await agents.node1!.connect(ip('b'), 8080), 'b', 8080, null, node1.ip);
    landed(await agents.node1!.connect(ip('b'), 15008), 'node1', 15008, `${ip('b')}:15008`);
    // HBONE to a pod on another node is that node's business.
    landed(await agents.node1!.connect(ip('e'), 15008), 'node2', 15008, `${ip('e')}:15008`, node1.ip);
  });

  it("leaves a non-enrolled pod's own traffic alone", async () => {
    landed(await agents.c!.connect(ip('d'), 8080), 'd', 8080, null, ip('c'));
    const toVip = await agents.c!.connect(vip, 80, 1000);
    assert.equal(toVip.ok, false, 'nothing routes a VIP for a pod that is not captured');
  });

  it('reconciles a pod leaving and rejoining the mesh without restarting anything', async () => {
    const pids = Object.values(agents).map((a) => a.pid);
    const r = await rules1.reconcile([ip('a')]);
    assert.ok(r.ok && r.changed);
    landed(await agents.c!.connect(ip('b'), 8080), 'b', 8080, null, ip('c'));
    landed(await agents.b!.connect(ip('c'), 8080), 'c', 8080, null, ip('b'));
    landed(await agents.a!.connect(ip('b'), 8080), 'node1', 15001, `${ip('b')}:8080`, ip('a'));
    assert.doesNotMatch(await save(node1), /10\.244\.1\.3/);

    await rules1.reconcile([ip('a'), ip('b')]);
    landed(await agents.c!.connect(ip('b'), 8080), 'node1', 15006, `${ip('b')}:8080`, ip('c'));
    assert.deepEqual(Object.values(agents).map((a) => a.pid), pids);
  });

  it('puts back a deleted jump and a deleted chain within 2 s', async () => {
    const good = await save(node1);
    const before = rules1.repairCount;
    await ipt(node1, '-D', 'PREROUTING', '-j', 'AMBIT-PREROUTING');
    landed(await agents.c!.connect(ip('b'), 8080), 'b', 8080, null, ip('c'));
    const jumpMs = await waitFor('jump restored', async () => (await save(node1)) === good, 2500);
    landed(await agents.c!.connect(ip('b'), 8080), 'node1', 15006, `${ip('b')}:8080`, ip('c'));

    await ipt(node1, '-D', 'OUTPUT', '-j', 'AMBIT-OUTPUT');
    await ipt(node1, '-F', 'AMBIT-OUTPUT');
    await ipt(node1, '-X', 'AMBIT-OUTPUT');
    const chainMs = await waitFor('chain restored', async () => (await save(node1)) === good, 2500);
    landed(await agents.node1!.connect(ip('b'), 15008), 'node1', 15008, `${ip('b')}:15008`);

    // A rule changed underneath is drift too.
    await ipt(node1, '-R', 'AMBIT-PREROUTING', '1', '-s', ip('a'), '-p', 'tcp', '-j', 'RETURN');
    await waitFor('changed rule restored', async () => (await save(node1)) === good, 2500);
    assert.equal(rules1.repairCount, before + 3);
    assert.ok(repairs.every((r) => r.ok));
    assert.ok(jumpMs < 2500 && chainMs < 2500, `jump ${jumpMs} ms, chain ${chainMs} ms`);
  });

  it('installing twice, or over what a crashed ztunnel left, gives identical rules', async () => {
    const good = await save(node1);
    const again = new CaptureRules({ logger: silentLogger(), runner: topo.commandRunner(node1.ns), verifyIntervalMs: 0 });
    assert.deepEqual(await again.install([ip('b'), ip('a')]), { ok: true, changed: false, differences: [] });
    assert.equal(await save(node1), good);

    // The running manager "crashes" (its loop stops, rules stay); a stale one wrote other pods
    // and a second jump; the restarted one must end with exactly the good rules.
    rules1.stop();
    const stale = new CaptureRules({ logger: silentLogger(), runner: topo.commandRunner(node1.ns), verifyIntervalMs: 0 });
    await stale.install([ip('c')]);
    await ipt(node1, '-A', 'PREROUTING', '-j', 'AMBIT-PREROUTING');
    assert.notEqual(await save(node1), good);
    rules1 = new CaptureRules({ logger: silentLogger(), runner: topo.commandRunner(node1.ns), onRepair: (r) => repairs.push(r) });
    const r = await rules1.install([ip('a'), ip('b')]);
    assert.ok(r.ok && r.changed);
    assert.equal(await save(node1), good);
    landed(await agents.c!.connect(ip('b'), 8080), 'node1', 15006, `${ip('b')}:8080`, ip('c'));
  });

  it('reports a clear error and changes nothing when iptables is refused (not root)', { skip: findExecutable('setpriv') ? false : 'needs setpriv (util-linux)' }, async () => {
    const good = await save(node1);
    const inner = topo.commandRunner(node1.ns);
    const nobody = new CaptureRules({
      logger: silentLogger(),
      verifyIntervalMs: 0,
      runner: { run: (file, args, opts) => inner.run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', file, ...args], opts) },
    });
    const r = await nobody.install([ip('c')]);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'CAPTURE_UNAVAILABLE');
    assert.match(!r.ok ? r.error.message : '', /needs root or CAP_NET_ADMIN/);
    assert.equal(await save(node1), good);
  });

  it('remove() restores the nat table and destroy() leaves no namespace, link, rule or process', async () => {
    const during = topo.leftovers();
    assert.equal(during.namespaces.length, 7);
    assert.equal(during.processes.length, 7);
    assert.ok(during.natRules.some((l) => l.includes('-j AMBIT-PREROUTING')));
    const r = await rules1.remove();
    assert.ok(r.ok && r.changed);
    assert.equal(await save(node1), natBefore);
    assert.ok((await rules2.remove()).ok);
    assert.doesNotMatch(await save(node2), /AMBIT/);
    // Nothing captured any more: the pod's VIP connection has nowhere to go.
    assert.equal((await agents.a!.connect(vip, 80, 1000)).ok, false);
    await topo.destroy();
    assert.deepEqual(topo.leftovers(), { namespaces: [], links: [], natRules: [], processes: [] });
  });
});
