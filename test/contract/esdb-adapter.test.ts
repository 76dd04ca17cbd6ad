// What only the EventStoreDB adapter has to show, on the FAKE server (test/support/esdb-fake):
// the id mapping, the client's production append path, positions beyond 2^53, outages mapped to
// StoreUnavailableError, a lost answer retried with the same ids, and the configuration that
// selects the adapter. Subscription drops are in esdb-drops.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ulid } from 'ulid';
import { ConfigError, loadConfig } from '../../src/boot/config.ts';
import { openStore } from '../../src/boot/open-store.ts';
import { ConcurrencyError, StoreUnavailableError } from '../../src/store/errors.ts';
import { openEsdbStore } from '../../src/store/esdb/esdb-store.ts';
import { ulidToUuid, uuidToUlid } from '../../src/store/esdb/ids.ts';
import { type EventData, type EventStore, positionToString } from '../../src/store/port.ts';
import { FakeLog } from '../support/esdb-fake/fake-log.ts';
import { type FakeEsdb, startFakeEsdb } from '../support/esdb-fake/fake-server.ts';
import { removeDir, tempDir } from '../support/process.ts';

const event = (n = 0): EventData => ({
  id: ulid(),
  type: 'AdapterTested',
  data: { n },
  metadata: {},
});

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const anyUlid = fc
  .tuple(
    fc.constantFrom(...'01234567'),
    fc.array(fc.constantFrom(...CROCKFORD), { minLength: 25, maxLength: 25 }),
  )
  .map(([head, tail]) => head + tail.join(''));

describe('esdb adapter: event ids', () => {
  it('maps every ULID to a UUID with the same 128 bits and back', () => {
    fc.assert(
      fc.property(anyUlid, (id) => {
        const uuid = ulidToUuid(id);
        assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        assert.equal(uuidToUlid(uuid), id);
      }),
    );
  });

  it('keeps the order of ids', () => {
    fc.assert(
      fc.property(anyUlid, anyUlid, (a, b) => {
        assert.equal(a < b, ulidToUuid(a) < ulidToUuid(b));
      }),
    );
  });

  it('refuses ids it could not give back unchanged', () => {
    for (const id of [
      '01arz3ndektsv4rrffq69g5fav',
      '81ARZ3NDEKTSV4RRFFQ69G5FAV',
      crypto.randomUUID(),
      '',
    ]) {
      assert.throws(() => ulidToUuid(id), TypeError);
    }
  });
});

describe('esdb adapter on the fake server', () => {
  let fake: FakeEsdb;
  const stores: EventStore[] = [];
  const open = (connectionString = fake.connectionString) => {
    const store = openEsdbStore({ connectionString });
    stores.push(store);
    return store;
  };
  before(async () => {
    fake = await startFakeEsdb({ log: new FakeLog({ firstPosition: 2n ** 62n + 1n }) });
  });
  after(async () => {
    for (const store of stores) await store.close();
    await fake.stop();
  });

  it('appends through BatchAppend and stores our ids as UUIDs', async () => {
    const store = open();
    const before = fake.calls.batchAppends + fake.calls.appends;
    const written = [event(1), event(2)];
    await store.append('origin-ids', written, { expectedRevision: 'no_stream' });
    assert.ok(fake.calls.batchAppends > 0, 'the client did not use BatchAppend');
    assert.equal(fake.calls.batchAppends + fake.calls.appends, before + 1);
    assert.deepEqual(
      fake.log.stream('origin-ids').map((e) => e.id),
      written.map((e) => ulidToUuid(e.id)),
    );
    assert.deepEqual(
      (await store.readStream('origin-ids')).map((e) => e.id),
      written.map((e) => e.id),
    );
  });

  it('keeps positions beyond 2^53 exact, as bigint and as decimal strings', async () => {
    const store = open();
    const result = await store.append('origin-big', [event()]);
    const stored = fake.log.stream('origin-big')[0]!;
    assert.ok(stored.position > 2n ** 62n, 'fake did not start high');
    assert.deepEqual(result.position, { commit: stored.position, prepare: stored.position });
    const [read] = await store.readAll({ after: { commit: stored.position - 1n, prepare: 0n } });
    assert.equal(read?.position.commit, stored.position);
    assert.equal(positionToString(result.position), `${stored.position}/${stored.position}`);
  });

  it('refuses ids that are not ULIDs and EventStoreDB system stream names', async () => {
    const store = open();
    await assert.rejects(
      store.append('origin-x', [{ ...event(), id: crypto.randomUUID() }]),
      TypeError,
    );
    await assert.rejects(store.append('$settings', [event()]), TypeError);
    await assert.rejects(store.readStream('$settings'), TypeError);
  });

  it('a lost answer: retrying the same ids with the same expected revision is acknowledged', async () => {
    const store = open();
    await store.append('origin-lost', [event()], { expectedRevision: 'no_stream' });
    const batch = [event(1), event(2)];
    fake.loseNextAppendAnswer();
    await assert.rejects(
      store.append('origin-lost', batch, { expectedRevision: 0n }),
      StoreUnavailableError,
    );
    assert.equal(fake.log.stream('origin-lost').length, 3, 'the first attempt was not stored');
    const retried = await store.append('origin-lost', batch, { expectedRevision: 0n });
    const last = fake.log.stream('origin-lost')[2]!;
    assert.deepEqual(retried, {
      nextExpectedRevision: 2n,
      position: { commit: last.position, prepare: last.position },
    });
    assert.equal(fake.log.stream('origin-lost').length, 3, 'the retry wrote a second copy');
    await assert.rejects(
      store.append('origin-lost', [event()], { expectedRevision: 0n }),
      (error: unknown) => error instanceof ConcurrencyError && error.actual === 2n,
    );
  });
});

describe('esdb adapter on a server without BatchAppend', () => {
  it('falls back to the Append call with the same semantics', async () => {
    const fake = await startFakeEsdb({ batchAppend: false });
    const store = openEsdbStore({ connectionString: fake.connectionString });
    try {
      const batch = [event(1), event(2)];
      const first = await store.append('origin-old', batch, { expectedRevision: 'no_stream' });
      assert.deepEqual(
        await store.append('origin-old', batch, { expectedRevision: 'no_stream' }),
        first,
      );
      await assert.rejects(
        store.append('origin-old', [event()], { expectedRevision: 0n }),
        (error: unknown) => error instanceof ConcurrencyError && error.actual === 1n,
      );
      assert.equal(fake.calls.batchAppends, 0);
      assert.ok(fake.calls.appends >= 3, `only ${fake.calls.appends} Append calls`);
    } finally {
      await store.close();
      await fake.stop();
    }
  });
});

describe('esdb adapter when the server is gone', () => {
  it('maps refused connections and dropped calls to StoreUnavailableError', async () => {
    const fake = await startFakeEsdb();
    const store = openEsdbStore({ connectionString: fake.connectionString });
    try {
      await store.append('origin-gone', [event()]);
      fake.kill();
      await assert.rejects(store.append('origin-gone', [event()]), StoreUnavailableError);
      await assert.rejects(store.readStream('origin-gone'), StoreUnavailableError);
      await assert.rejects(store.readAll(), StoreUnavailableError);
      await assert.rejects(store.streamRevision('origin-gone'), StoreUnavailableError);
      await assert.rejects(store.headPosition(), StoreUnavailableError);
    } finally {
      await store.close();
    }
    // A client that never reached the server fails in its first call (fetching server
    // features), where the error is a raw gRPC UNAVAILABLE (code 14).
    const fresh = openEsdbStore({ connectionString: fake.connectionString });
    try {
      await assert.rejects(fresh.append('origin-gone', [event()]), StoreUnavailableError);
    } finally {
      await fresh.close();
    }
  });
});

describe('esdb adapter configuration', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));
  const base = () => {
    const dir = tempDir('esdb-config');
    dirs.push(dir);
    return { AUTHLOG_DATA_DIR: dir, AUTHLOG_STORE: 'esdb' };
  };
  const problems = (env: Record<string, string>): readonly string[] => {
    try {
      loadConfig(env);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('AUTHLOG_STORE=esdb with ESDB_CONNECTION_STRING opens the EventStoreDB adapter', async () => {
    const config = loadConfig({
      ...base(),
      ESDB_CONNECTION_STRING: 'esdb://127.0.0.1:1?tls=false',
    });
    assert.deepEqual(config.store, {
      kind: 'esdb',
      connectionString: 'esdb://127.0.0.1:1?tls=false',
    });
    const store = openStore(config.store);
    assert.equal(store.kind, 'esdb');
    await store.close();
  });

  it('names a missing or malformed connection string without repeating it', () => {
    assert.match(problems(base()).join('\n'), /needs ESDB_CONNECTION_STRING/);
    const malformed = problems({
      ...base(),
      ESDB_CONNECTION_STRING: 'https://admin:s3cret@esdb:2113',
    });
    assert.match(malformed.join('\n'), /ESDB_CONNECTION_STRING must look like esdb:\/\//);
    assert.doesNotMatch(malformed.join('\n'), /s3cret/);
    assert.throws(
      () =>
        openStore({ kind: 'esdb', connectionString: 'esdb://admin:s3cret@esdb:2113?tls=maybe' }),
      (error: unknown) =>
        error instanceof ConfigError && !error.problems.join('\n').includes('s3cret'),
    );
  });

  it('production mode refuses a connection string that turns TLS off', () => {
    const production = {
      ...base(),
      AUTHLOG_MODE: 'production',
      AUTHLOG_NODE_ID: 'site-a-1',
      AUTHLOG_OPERATOR_TOKEN: 'x'.repeat(40),
      AUTHLOG_TOTP_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    };
    assert.match(
      problems({ ...production, ESDB_CONNECTION_STRING: 'esdb://esdb:2113?TLS=False' }).join('\n'),
      /production mode needs TLS/,
    );
    assert.deepEqual(
      problems({
        ...production,
        ESDB_CONNECTION_STRING: 'esdb://esdb:2113?tlsCAFile=/certs/ca.crt',
      }).filter((p) => p.includes('ESDB')),
      [],
    );
  });
});
