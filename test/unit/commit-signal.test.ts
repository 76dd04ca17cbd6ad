// The commit signal wakes waits for applied writes: a wait resolves on the commit that satisfies it,
// times out otherwise, and leaves no listener behind either way (a client sending `authlog-after`
// for a write that never comes must not grow the node's listener set).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCommitSignal } from '../../src/node/commit-signal.ts';

describe('commit signal', () => {
  it('resolves at once when the condition already holds, without listening', async () => {
    const signal = createCommitSignal();
    assert.equal(await signal.until(() => true, 1000), true);
    assert.equal(signal.waiting, 0);
  });

  it('resolves on the commit that makes the condition true, not on earlier ones', async () => {
    const signal = createCommitSignal();
    let applied = 0;
    const wait = signal.until(() => applied >= 2, 10_000);
    applied = 1;
    signal.fire();
    assert.equal(signal.waiting, 1, 'still waiting after a commit that does not cover it');
    applied = 2;
    signal.fire();
    assert.equal(await wait, true);
    assert.equal(signal.waiting, 0);
  });

  it('answers false at the timeout and removes its listener', async () => {
    const signal = createCommitSignal();
    const waits = Array.from({ length: 100 }, () => signal.until(() => false, 10));
    assert.equal(signal.waiting, 100);
    assert.deepEqual(new Set(await Promise.all(waits)), new Set([false]));
    assert.equal(signal.waiting, 0, 'no listener left after the timeouts');
    signal.fire();
  });

  it('next() resolves at the next commit or at its timeout, leaving nothing behind', async () => {
    const signal = createCommitSignal();
    const woken = signal.next(10_000);
    signal.fire();
    await woken;
    await signal.next(5);
    assert.equal(signal.waiting, 0);
  });
});
