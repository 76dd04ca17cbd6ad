// A rebuild leaves the projections' query indexes out while it applies events and creates them
// at the end (a sort each instead of an insert per row). The rebuilt file must end up with the
// same schema as a read model built event by event, indexes included, and the same digest.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { projections } from '../../projections/index.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { startNode } from '../../src/node/node.ts';
import { rebuildReadModel } from '../../src/node/rebuild.ts';
import { openReadModel } from '../../src/readmodel/database.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { testFounders, testTrust } from '../support/keys.ts';

type SchemaRow = { type: string; name: string; sql: string | null };

const schemaOf = (path: string): SchemaRow[] => {
  const rm = openReadModel(path, projections);
  try {
    return rm.reader
      .prepare(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all() as SchemaRow[];
  } finally {
    rm.close();
  }
};

describe('rebuild', () => {
  it('ends with the live read model’s schema, query indexes included, and its digest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authlog-rebuild-'));
    try {
      const store = openSqliteStore({ path: join(dir, 'events.sqlite') });
      const live = join(dir, 'live.sqlite');
      const node = await startNode({
        nodeId: 'n1',
        store,
        readModelPath: live,
        ...testTrust('n1'),
      });
      await node.ready;
      for (let i = 0; i < 20; i++) {
        await node.execute(
          registerPrincipal({ principalId: `p${i}`, kind: 'person', briefName: `P ${i}` }),
          { actor: 'system' },
        );
      }
      const liveDigest = node.digest();
      await node.close();

      const rebuilt = join(dir, 'rebuilt.sqlite');
      const result = await rebuildReadModel({
        store,
        path: rebuilt,
        projections,
        founders: testFounders,
      });
      assert.equal(result.digest, liveDigest);

      const expected = schemaOf(live);
      assert.ok(
        expected.some((r) => r.name === 'audit_type'),
        'the live read model has the audit trail’s query indexes',
      );
      assert.deepEqual(schemaOf(rebuilt), expected);

      const rm = openReadModel(rebuilt, projections);
      const plan = rm.reader
        .prepare("EXPLAIN QUERY PLAN SELECT * FROM audit WHERE type = 'PrincipalRegistered'")
        .all() as { detail: string }[];
      rm.close();
      assert.match(plan.map((p) => p.detail).join(' '), /USING INDEX audit_type/);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
