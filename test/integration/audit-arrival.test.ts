// The one gap of time-ordered paging, and the walk that closes it. Node b accepts an event while
// cut off from node a; a's own events come later in time. An auditor who has paged a's trail to
// its end keeps the cursor. When b's event reaches a, its HLC is older than that cursor: a walk
// in time order does not see it, a walk in a's arrival order does, exactly once.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AuditEntry } from '../../projections/audit.ts';
import { followAudit } from '../../src/accounting/arrival.ts';
import { encodeCursor, queryAudit } from '../../src/accounting/queries.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { AppError } from '../../src/errors.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';

const sys = { actor: 'system' };
const register = (id: string) =>
  registerPrincipal({ principalId: id, kind: 'person', briefName: id });
const touches = (items: readonly AuditEntry[], id: string) =>
  items.some((e) => e.type === 'PrincipalRegistered' && e.subjects.includes(id));

describe('audit trail in arrival order', () => {
  const nodes: AuthlogNode[] = [];
  after(async () => {
    for (const n of nodes) await stopNode(n);
  });

  it('sees a late-replicated event with an older time that time-order paging has passed', async () => {
    const a = await startMemoryNode('site-a');
    const b = await startMemoryNode('site-b');
    nodes.push(a, b);
    await b.execute(register('cut-off'), sys);
    await new Promise((r) => setTimeout(r, 5));
    for (const id of ['a1', 'a2', 'a3']) await a.execute(register(id), sys);

    // The auditor walks a's trail to its end, both ways.
    const byTime = queryAudit(a.read, { limit: 1000 });
    assert.equal(byTime.next, null);
    const last = byTime.items.at(-1)!;
    const timeCursor = encodeCursor({ order: 'asc', hlc: last.hlc, eventId: last.eventId });
    const byArrival = await followAudit(a, { order: 'arrival', limit: 1000 });
    assert.ok(byArrival.caughtUp);
    assert.deepEqual(
      byArrival.items.map((e) => e.eventId),
      byTime.items.map((e) => e.eventId),
    );

    await pull(b, a);
    const late = a.read.get(
      "SELECT hlc FROM audit WHERE type = 'PrincipalRegistered' AND subjects = 'cut-off'",
    );
    assert.ok(late && String(late.hlc) < last.hlc, 'the late event is older than the cursor');

    const timeWalk = queryAudit(a.read, { cursor: timeCursor, limit: 1000 });
    assert.ok(!touches(timeWalk.items, 'cut-off'), 'time order cannot see it (the known gap)');
    const arrivalWalk = await followAudit(a, { cursor: byArrival.next, limit: 1000 });
    assert.ok(touches(arrivalWalk.items, 'cut-off'), 'arrival order sees it');
    assert.ok(arrivalWalk.caughtUp);
    const again = await followAudit(a, { cursor: arrivalWalk.next, limit: 1000 });
    assert.deepEqual(again.items, [], 'and only once');

    // Filters apply as in time order; a page of 1 steps through the same rows.
    const filtered = await followAudit(a, {
      actor: 'system',
      types: ['PrincipalRegistered'],
      limit: 1000,
    });
    assert.deepEqual(filtered.items.map((e) => e.subjects[0]).sort(), [
      'a1',
      'a2',
      'a3',
      'cut-off',
    ]);
    const stepped: string[] = [];
    for (let cursor: string | undefined, n = 0; n < 100; n++) {
      const p = await followAudit(a, { limit: 1, ...(cursor ? { cursor } : {}) });
      stepped.push(...p.items.map((e) => e.eventId));
      cursor = p.next;
      if (p.caughtUp) break;
    }
    const everything = await followAudit(a, { limit: 1000 });
    assert.deepEqual(
      stepped,
      everything.items.map((e) => e.eventId),
    );

    // b's cursor names b: a refuses it rather than read a different log from that position.
    const foreign = (await followAudit(b, { limit: 1 })).next;
    await assert.rejects(
      followAudit(a, { cursor: foreign, limit: 1 }),
      (err: unknown) => err instanceof AppError && /site-b/.test(err.message),
    );
  });
});
