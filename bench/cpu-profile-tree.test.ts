import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildProfileTree, moduleOf } from './cpu-profile-tree.js';

const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });

describe('cpu profile tree', () => {
  it('names modules by project file, npm package or node internal', () => {
    assert.equal(moduleOf('file:///w/dist/waypoint/forwarder.js', 'f'), 'waypoint/forwarder.js');
    assert.equal(moduleOf('file:///w/node_modules/prom-client/lib/counter.js', 'inc'), 'npm:prom-client');
    assert.equal(moduleOf('node:_http_server', 'x'), 'node:_http_server');
    assert.equal(moduleOf('', '(garbage collector)'), '(garbage collector)');
  });

  it('charges a sample to its function and every caller once, and leaves idle time out', () => {
    const nodes = [
      { id: 1, callFrame: frame('(root)'), children: [2, 4] },
      { id: 2, callFrame: frame('handle', 'file:///w/dist/waypoint/a.js'), children: [3] },
      { id: 3, callFrame: frame('inc', 'file:///w/node_modules/prom-client/x.js') },
      { id: 4, callFrame: frame('(idle)') },
    ];
    const tree = buildProfileTree({ nodes, samples: [3, 3, 2, 4], timeDeltas: [1000, 1000, 2000, 5000] });
    assert.equal(tree.busyMs, 4);
    assert.deepEqual(Object.fromEntries(tree.byModule), { 'npm:prom-client': 2, 'waypoint/a.js': 2 });
    assert.deepEqual(Object.fromEntries(tree.inclusive), { 'handle waypoint/a.js:1': 4, 'inc npm:prom-client:1': 2 });
  });

  it('can leave out samples taken while modules were loading', () => {
    const nodes = [
      { id: 1, callFrame: frame('(root)'), children: [2, 3] },
      { id: 2, callFrame: frame('load', 'node:internal/modules/esm/loader') },
      { id: 3, callFrame: frame('work', 'file:///w/dist/a.js') },
    ];
    const tree = buildProfileTree({ nodes, samples: [2, 3], timeDeltas: [3000, 1000] }, { skipStartup: true });
    assert.equal(tree.busyMs, 1);
  });
});
