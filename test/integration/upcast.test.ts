// Upcasting: a log holding events in an old payload shape (schema 0: Talos' principal with
// firstName / lastName) is appended with the store's raw append, bypassing every command, then
// replayed. The old events must project as their current shape would, validate against the
// catalogue after upcasting, and a version newer than the code must be refused, not guessed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { projections } from '../../projections/index.ts';
import { encodeHlc } from '../../src/clock/hlc.ts';
import { CURRENT_SCHEMA } from '../../src/events/catalogue.ts';
import { fromRecorded, MalformedEventError, originStream } from '../../src/events/envelope.ts';
import { upcast } from '../../src/events/upcast.ts';
import { rebuildReadModel } from '../../src/node/rebuild.ts';
import { openReadModel } from '../../src/readmodel/database.ts';
import type { EventData, JsonObject } from '../../src/store/port.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { sealRun, testFounders } from '../support/keys.ts';

const ORIGIN = 'talos';
const event = (seq: number, type: string, data: JsonObject, schema: number): EventData => ({
  id: `01J0000000000000000000000${seq}`,
  type,
  data,
  metadata: {
    origin: ORIGIN,
    seq: String(seq),
    hlc: encodeHlc({ wall: Date.UTC(2020, 0, 1) + seq, counter: 0, node: ORIGIN }),
    deps: seq > 1 ? { [ORIGIN]: String(seq - 1) } : {},
    schema,
    actor: 'system',
  },
});

describe('upcasting old event versions', () => {
  it('replays a log mixing schema 0 and current events into the current shape', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    await store.append(
      originStream(ORIGIN),
      sealRun([
        event(
          1,
          'PrincipalRegistered',
          {
            principalId: 'p1',
            firstName: ' Grace ',
            lastName: 'Hopper',
            email: 'Grace@Example.ORG',
            phone: null,
          },
          0,
        ),
        event(
          2,
          'PrincipalRegistered',
          { principalId: 'svc', firstName: 'backup', kind: 'service' },
          0,
        ),
        event(3, 'PrincipalDeactivated', { principalId: 'p1', reason: 'retired' }, 0),
        event(
          4,
          'PrincipalRegistered',
          {
            principalId: 'p2',
            kind: 'person',
            pii: {
              briefName: 'Ada',
              fullName: 'Ada Lovelace',
              email: null,
              emailKey: null,
              phone: null,
            },
          },
          CURRENT_SCHEMA,
        ),
      ]),
      { expectedRevision: 'no_stream' },
    );
    const result = await rebuildReadModel({
      store,
      path: ':memory:',
      projections,
      founders: testFounders,
    });
    assert.equal(result.events, 4);
    assert.equal(result.buffered, 0);

    // Every stored event passes the catalogue's validation once upcast (what a peer's feed gets).
    const stored = await store.readStream(originStream(ORIGIN));
    for (const r of stored) {
      const e = fromRecorded(r, true);
      assert.equal(e.schema, CURRENT_SCHEMA);
    }
    const first = fromRecorded(stored[0]!, true);
    assert.deepEqual(first.data, {
      principalId: 'p1',
      kind: 'person',
      pii: {
        briefName: 'Grace',
        fullName: 'Grace Hopper',
        email: 'Grace@Example.ORG',
        emailKey: 'grace@example.org',
        phone: null,
      },
    });
    await store.close();
  });

  it('projects upcast events like current ones (principals and the audit trail)', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    await store.append(
      originStream(ORIGIN),
      sealRun([
        event(
          1,
          'PrincipalRegistered',
          { principalId: 'p1', firstName: 'Grace', lastName: 'Hopper' },
          0,
        ),
      ]),
      { expectedRevision: 'no_stream' },
    );
    const dir = mkdtempSync(join(tmpdir(), 'authlog-upcast-'));
    const path = join(dir, 'rm.sqlite');
    await rebuildReadModel({ store, path, projections, founders: testFounders });
    const rm = openReadModel(path, projections);
    const p = rm.reader
      .prepare('SELECT brief_name, full_name, kind FROM principals WHERE id = ?')
      .get('p1') as { brief_name: string; full_name: string; kind: string };
    assert.deepEqual(p, { brief_name: 'Grace', full_name: 'Grace Hopper', kind: 'person' });
    const row = rm.reader.prepare('SELECT summary, subjects FROM audit').get() as {
      summary: string;
      subjects: string;
    };
    assert.deepEqual(row, { summary: 'registered person p1', subjects: 'p1' });
    rm.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a schema version newer than this code, and leaves unchanged types alone', () => {
    assert.throws(
      () =>
        fromRecorded(event(1, 'PrincipalRegistered', { principalId: 'p1' }, CURRENT_SCHEMA + 1)),
      MalformedEventError,
    );
    const data = { principalId: 'p1', reason: 'x' };
    assert.equal(upcast('PrincipalDeactivated', 0, data), data);
  });
});
