// A node's `waitApplied(origin, seq, timeoutMs)` (the wait behind `authlog-after`) resolves on the
// read-model commit that applies the write, whether the node wrote it or ingested it from a peer,
// and answers false at its timeout (that no listener is left behind: test/unit/commit-signal.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { seqOf } from '../../src/clock/version-vector.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { startMemoryNode, stopNode } from '../support/in-process.ts';

describe('waiting for an applied write', () => {
  let a: AuthlogNode;
  let b: AuthlogNode;
  before(async () => {
    a = await startMemoryNode('wait-a');
    b = await startMemoryNode('wait-b');
  });
  after(async () => {
    await stopNode(a);
    await stopNode(b);
  });

  const write = (node: AuthlogNode, id: string) =>
    node.execute(registerPrincipal({ principalId: id, kind: 'person', briefName: id }), {
      actor: 'system',
    });

  it('resolves on the commit of a write still to come', async () => {
    const next = seqOf(a.appliedVector(), a.id) + 1n;
    let resolved = false;
    const wait = a.waitApplied(a.id, next, 10_000).then((ok) => {
      resolved = true;
      return ok;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(resolved, false, 'nothing committed yet');
    const started = Date.now();
    await write(a, 'w1');
    assert.equal(await wait, true);
    assert.ok(Date.now() - started < 5000, 'woken by the commit, not by the 10 s timeout');
  });

  it('resolves on the commit that applies an ingested write of another origin', async () => {
    await write(b, 'w2');
    const seq = seqOf(b.appliedVector(), b.id);
    const wait = a.waitApplied(b.id, seq, 10_000);
    const events = await b.eventLog.readLog({ maxCount: 1000 });
    await a.ingest.append(events.filter((r) => r.metadata.origin === b.id));
    assert.equal(await wait, true);
  });

  it('answers at once for what is applied, and false at the timeout for what is not', async () => {
    const seq = seqOf(a.appliedVector(), a.id);
    assert.equal(await a.waitApplied(a.id, seq, 0), true);
    assert.equal(await a.waitApplied(a.id, seq + 1000n, 20), false);
    assert.equal(await a.waitApplied('nobody', 1n, 20), false);
  });
});
