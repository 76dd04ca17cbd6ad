// Performance guard: the statements projections run for every event must use an index. A full
// table scan per event turns a rebuild quadratic (it once did: `email_key IS ?` could not use the
// partial index, and a 1M-event rebuild took hours instead of a minute).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { roleClaims } from '../../projections/authz.ts';
import { directoryClaims, identityClaims } from '../../projections/identities.ts';
import { projections } from '../../projections/index.ts';
import { emailClaims } from '../../projections/principals.ts';
import { openReadModel } from '../../src/readmodel/database.ts';
import { type ClaimTable, claimRecompute } from '../../src/readmodel/registers.ts';

describe('query plans of per-event statements', () => {
  it('claim recomputes search by index, never scan their table', () => {
    const rm = openReadModel(':memory:', projections);
    try {
      const cases: [ClaimTable, (string | null)[]][] = [
        [emailClaims, ['ann@example.org']],
        [identityClaims, ['internal', 'ann']],
        [directoryClaims, ['corp']],
        [roleClaims, ['default', 'ops']],
      ];
      for (const [table, key] of cases) {
        const s = claimRecompute(table, key);
        const plan = (
          rm.writer.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).all(...s.params) as { detail: string }[]
        ).map((r) => r.detail);
        const scans = plan.filter((d) => /^SCAN /.test(d));
        assert.deepEqual(scans, [], `${table.table}: ${plan.join(' | ')}`);
      }
    } finally {
      rm.close();
    }
  });
});
