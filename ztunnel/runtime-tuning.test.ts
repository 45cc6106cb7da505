import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { runtimeV8FlagsToSet, ztunnelNodeOptions, ztunnelRuntimeV8Flags } from './runtime-tuning.js';

describe('runtimeV8FlagsToSet', () => {
  it('sets every runtime flag when node was started without them', () => {
    assert.deepEqual(runtimeV8FlagsToSet(['--max-semi-space-size=1'], ''), [...ztunnelRuntimeV8Flags]);
  });

  it('leaves a flag given on node\'s command line alone, in either spelling', () => {
    assert.deepEqual(runtimeV8FlagsToSet(['--heap-growing-percent=50'], undefined), []);
    assert.deepEqual(runtimeV8FlagsToSet(['--heap_growing_percent=0'], undefined), []);
  });

  it('ignores arguments that are not flags', () => {
    assert.deepEqual(runtimeV8FlagsToSet(['heap-growing-percent', ''], '  '), [...ztunnelRuntimeV8Flags]);
  });
});

describe('the ztunnel DaemonSet', () => {
  it('starts node with ztunnelNodeOptions through NODE_OPTIONS', () => {
    const file = fileURLToPath(new URL('../../manifests/base/ztunnel.yaml', import.meta.url));
    const docs = yaml.loadAll(readFileSync(file, 'utf8')) as { kind?: string; spec?: { template?: { spec?: { containers?: { name: string; env?: { name: string; value?: string }[] }[] } } } }[];
    const ds = docs.find((d) => d?.kind === 'DaemonSet');
    const container = ds?.spec?.template?.spec?.containers?.find((c) => c.name === 'ztunnel');
    const nodeOptions = container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
    assert.equal(nodeOptions, ztunnelNodeOptions.join(' '));
  });
});
