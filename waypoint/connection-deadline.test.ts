import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionDeadline } from './connection-deadline.js';

type Kind = 'head' | 'idle' | 'body';

function recorder(): { deadline: ConnectionDeadline<Kind>; fired: Kind[] } {
  const fired: Kind[] = [];
  return { deadline: new ConnectionDeadline<Kind>((k) => fired.push(k)), fired };
}

describe('ConnectionDeadline', () => {
  it('fires the current wait once when its time is up', async () => {
    const { deadline, fired } = recorder();
    deadline.arm('head', 20);
    await sleep(120);
    assert.deepEqual(fired, ['head']);
    deadline.dispose();
  });

  it('never fires a wait that another one replaced, even when the old timer runs out first', async () => {
    const { deadline, fired } = recorder();
    deadline.arm('head', 20);
    deadline.arm('idle', 400);
    await sleep(120);
    assert.deepEqual(fired, [], 'the 20 ms timer ran out, but its wait had been replaced');
    deadline.dispose();
  });

  it('restarts the wait when the same duration is armed again, reusing its timer', async () => {
    const { deadline, fired } = recorder();
    deadline.arm('head', 150);
    await sleep(100);
    deadline.arm('body', 150); // same duration: the timer is refreshed, the kind is the new one
    await sleep(100);
    assert.deepEqual(fired, [], '200 ms after the first arm, but only 100 ms after the second');
    await sleep(150);
    assert.deepEqual(fired, ['body']);
    deadline.dispose();
  });

  it('extend() pushes the current wait back; after disarm() nothing fires', async () => {
    const { deadline, fired } = recorder();
    deadline.arm('body', 150);
    await sleep(100);
    deadline.extend();
    await sleep(100);
    assert.deepEqual(fired, []);
    deadline.disarm();
    deadline.extend(); // no current wait: stays disarmed
    await sleep(150);
    assert.deepEqual(fired, []);
    deadline.dispose();
  });

  it('can be armed again after firing (the fired timer is re-activated)', async () => {
    const { deadline, fired } = recorder();
    deadline.arm('idle', 20);
    await sleep(80);
    deadline.arm('idle', 20);
    await sleep(80);
    assert.deepEqual(fired, ['idle', 'idle']);
    deadline.dispose();
  });

  it('dispose() cancels every timer so nothing fires and the process may exit', async () => {
    const { deadline, fired } = recorder();
    deadline.arm('head', 30);
    deadline.arm('idle', 40);
    deadline.dispose();
    await sleep(100);
    assert.deepEqual(fired, []);
  });
});
