import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync, unlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../log.js';
import { ConfigStore } from './config-store.js';
import { FileSource } from './file-source.js';

const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}\n';
const pod = (name: string, ip: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: demo}\nspec: {containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;

async function until(cond: () => boolean, timeoutMs = 1000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

describe('FileSource', () => {
  let dir: string;
  let store: ConfigStore;
  let source: FileSource;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambit-files-'));
    writeFileSync(join(dir, 'ns.yaml'), ns);
    mkdirSync(join(dir, 'apps'));
    writeFileSync(join(dir, 'apps', 'pods.yaml'), pod('p1', '10.0.0.1'));
    writeFileSync(join(dir, 'README.txt'), 'not config');
    store = new ConfigStore({ trustDomain: 'cluster.local' });
    source = new FileSource({ path: dir, store, logger: silentLogger() });
    await source.start();
  });
  after(() => {
    source.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads every YAML file below the folder at start', () => {
    assert.equal(store.model.workloads.length, 1);
    assert.equal(store.model.workloads[0]!.tunnelProtocol, 'HBONE');
  });

  it('applies an edit within a second', async () => {
    const version = store.version;
    writeFileSync(join(dir, 'apps', 'pods.yaml'), pod('p1', '10.0.0.1') + '---\n' + pod('p2', '10.0.0.2'));
    assert.ok(await until(() => store.model.workloads.length === 2), 'p2 appears');
    assert.equal(store.version, version + 1);
  });

  it('keeps the last good objects of a file that turns invalid, and reports it', async () => {
    writeFileSync(join(dir, 'apps', 'pods.yaml'), 'kind: [broken\n');
    assert.ok(await until(() => store.errors.length > 0), 'the error is reported');
    assert.equal(store.model.workloads.length, 2);
    assert.equal(store.errors[0]!.source, join('apps', 'pods.yaml'));
  });

  // Regression: Node 20's recursive fs.watch on Linux went deaf to a file replaced by rename after
  // the second replacement (how editors and `ambit demo` save), so later edits never applied.
  it('applies every atomic save (write beside, rename over), not just the first ones', async () => {
    for (let i = 3; i <= 7; i++) {
      const tmp = join(dir, 'apps', '.pods.yaml.tmp');
      writeFileSync(tmp, [pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2'), pod(`p${i}`, `10.0.0.${i}`)].join('---\n'));
      renameSync(tmp, join(dir, 'apps', 'pods.yaml'));
      assert.ok(await until(() => store.model.workloads.some((w) => w.name === `p${i}`), 2_500), `save ${i - 2} applied`);
    }
  });

  it('removes the objects of a deleted file', async () => {
    writeFileSync(join(dir, 'extra.yaml'), pod('p9', '10.0.0.9'));
    assert.ok(await until(() => store.model.workloads.some((w) => w.name === 'p9')));
    unlinkSync(join(dir, 'extra.yaml'));
    assert.ok(await until(() => !store.model.workloads.some((w) => w.name === 'p9')), 'p9 is gone');
  });
});
