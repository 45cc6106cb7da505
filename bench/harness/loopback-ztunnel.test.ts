import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { listenerOriginalDst, parseOutboundSpec } from './loopback-ztunnel.js';

describe('loopback ztunnel stand-ins', () => {
  it('parses PORT=IP:PORT and refuses anything else with a reason', () => {
    assert.deepEqual(parseOutboundSpec('15001=10.96.1.20:80'), { port: 15001, dst: { ip: '10.96.1.20', port: 80 } });
    assert.match((parseOutboundSpec('10.96.1.20:80') as { error: string }).error, /PORT=IP:PORT/);
    assert.match((parseOutboundSpec('70000=10.96.1.20:80') as { error: string }).error, /out of range/);
  });

  it('gives each outbound listener the destination it stands for, and none to an unknown listener', () => {
    const resolve = listenerOriginalDst(new Map([[4000, { ip: '10.96.1.20', port: 80 }]]));
    assert.deepEqual(resolve({ localPort: 4000 } as Socket), { ip: '10.96.1.20', port: 80 });
    assert.equal(resolve({ localPort: 4001 } as Socket), undefined);
  });
});
