// The graph-edge register (role parents): for any set of parent edges, the resolved hierarchy
// is acyclic, independent of the order the edges are given in, and only ever drops the newest
// edge of a cycle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Edge, resolveParentGraph } from '../../src/readmodel/registers.ts';

const nodes = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
const edges = fc
  .uniqueArray(
    fc.record({
      child: fc.constantFrom(...nodes),
      parent: fc.option(fc.constantFrom(...nodes), { nil: null }),
      hlc: fc.integer({ min: 0, max: 1e6 }).map((n) => `${n.toString(16).padStart(16, '0')}@a`),
    }),
    { selector: (e) => e.child },
  )
  .chain((es) =>
    fc.tuple(
      fc.constant(es as Edge[]),
      fc.shuffledSubarray(es, { minLength: es.length, maxLength: es.length }),
    ),
  );

describe('graph-edge register', () => {
  it('resolves any edge set to the same acyclic graph whatever the order', () => {
    fc.assert(
      fc.property(edges, ([es, shuffled]) => {
        const a = resolveParentGraph(es);
        const b = resolveParentGraph(shuffled);
        assert.deepEqual([...a.parentOf].sort(), [...b.parentOf].sort());
        assert.deepEqual(a.neutralised, b.neutralised);
        for (const start of a.parentOf.keys()) {
          const seen = new Set<string>();
          let n: string | null | undefined = start;
          while (n != null) {
            assert.ok(!seen.has(n), `cycle through ${n}`);
            seen.add(n);
            n = a.parentOf.get(n);
          }
        }
        // Every neutralised edge was on a cycle and was that cycle's newest edge.
        const original = new Map(es.map((e) => [e.child, e]));
        for (const child of a.neutralised) {
          const cycle: string[] = [child];
          let n = original.get(child)?.parent;
          while (n != null && n !== child) {
            cycle.push(n);
            n = original.get(n)?.parent;
          }
          assert.equal(n, child, `${child} was not on a cycle`);
          const newest = cycle.reduce((x, y) =>
            original.get(y)!.hlc > original.get(x)!.hlc ? y : x,
          );
          assert.equal(newest, child);
        }
      }),
    );
  });

  it('breaks a two-role cycle at the newer edge', () => {
    const r = resolveParentGraph([
      { child: 'a', parent: 'b', hlc: '1' },
      { child: 'b', parent: 'a', hlc: '2' },
    ]);
    assert.equal(r.parentOf.get('a'), 'b');
    assert.equal(r.parentOf.get('b'), null);
    assert.deepEqual(r.neutralised, ['b']);
  });
});
