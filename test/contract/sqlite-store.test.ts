// Runs the event store contract against the embedded SQLite adapter on real files, plus what
// only a file shared between store objects and processes can show: cross-process delivery,
// racing writers that must not fork a stream, durability across reopen, lock timeouts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { ulid } from 'ulid';
import { ConcurrencyError, StoreUnavailableError } from '../../src/store/errors.ts';
import type { EventData, EventStore, JsonValue, SubscriptionItem } from '../../src/store/port.ts';
import { openSqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite/sqlite-store.ts';
import { eventStoreContract } from './event-store.contract.ts';

const tempDir = () => mkdtemp(join(tmpdir(), 'authlog-sqlite-store-'));

eventStoreContract('sqlite', async () => {
  const dir = await tempDir();
  const store = openSqliteStore({ path: join(dir, 'events.db'), pollIntervalMs: 20 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

const event = (data: EventData['data'] = {}): EventData => ({
  id: ulid(),
  type: 'SqliteTested',
  data,
  metadata: {},
});

const within = async <T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
};

const nextItem = async (iterator: AsyncIterator<SubscriptionItem>): Promise<SubscriptionItem> => {
  const result = await within(iterator.next(), 'a subscription item');
  assert.equal(result.done, false);
  return result.value;
};

describe('sqlite event store', () => {
  let dir: string;
  let path: string;
  const opened: EventStore[] = [];
  const open = (options: Partial<SqliteStoreOptions> = {}): EventStore => {
    const store = openSqliteStore({ path, pollIntervalMs: 20, ...options });
    opened.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await tempDir();
    path = join(dir, 'events.db');
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('uses WAL and durable commits by default', () => {
    open();
    const raw = new Database(path, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      raw.close();
    }
  });

  it('keeps events across close and reopen', async () => {
    const first = open();
    const written = [event({ n: 1 }), event({ n: 2 })];
    const result = await first.append('origin-a', written, { expectedRevision: 'no_stream' });
    await first.close();
    await assert.rejects(first.readAll(), /closed/);

    const reopened = open();
    const read = await reopened.readStream('origin-a');
    assert.deepEqual(
      read.map((e) => ({ id: e.id, data: e.data })),
      written.map((e) => ({ id: e.id, data: e.data })),
    );
    assert.deepEqual(read[1]?.position, result.position);
    const next = await reopened.append('origin-a', [event()], { expectedRevision: 1n });
    assert.equal(next.nextExpectedRevision, 2n);
    assert.ok(next.position.commit > result.position.commit, 'position went back');
  });

  it('notifies its own subscriptions without waiting for the poll', async () => {
    const store = open({ pollIntervalMs: 60_000 });
    const subscription = store.subscribe();
    const iterator = subscription[Symbol.asyncIterator]();
    assert.equal((await nextItem(iterator)).kind, 'caughtUp');
    const pending = nextItem(iterator);
    await delay(50); // let next() reach its wait, so only the notification can wake it
    const written = event();
    await store.append('origin-a', [written]);
    const item = await within(pending, 'an in-process notification', 1000);
    assert.equal(item.kind === 'event' && item.event.id, written.id);
    await subscription.stop();
  });

  it('pages a filtered subscription over many pages without gaps', async () => {
    const store = open();
    const wanted: string[] = [];
    for (let i = 0; i < 5; i++) {
      const batch = Array.from({ length: 500 }, () => event());
      await store.append(`origin-${i}`, batch);
      wanted.push(...batch.map((e) => e.id));
      await store.append(
        `other-${i}`,
        Array.from({ length: 300 }, () => event()),
      );
    }
    const seen: string[] = [];
    for await (const item of store.subscribe({ streamPrefix: 'origin-' })) {
      if (item.kind === 'caughtUp') break;
      seen.push(item.event.id);
    }
    assert.deepEqual(seen, wanted);
  });

  it('delivers events another store object appended to the same file (poll path)', async () => {
    const writer = open();
    const reader = open();
    await writer.append('origin-a', [event()]);
    const subscription = reader.subscribe({ streamPrefix: 'origin-' });
    const iterator = subscription[Symbol.asyncIterator]();
    assert.equal((await nextItem(iterator)).kind, 'event');
    assert.equal((await nextItem(iterator)).kind, 'caughtUp');
    const written = event();
    await writer.append('origin-b', [written]);
    const item = await nextItem(iterator);
    assert.equal(item.kind === 'event' && item.event.id, written.id);
    await subscription.stop();
  });

  // A long poll interval, so only stop() and close() themselves can end the wait in time.
  for (const end of ['stop', 'close'] as const) {
    it(`${end}() ends a pending next() at once`, async () => {
      const store = open({ pollIntervalMs: 60_000 });
      const subscription = store.subscribe();
      const iterator = subscription[Symbol.asyncIterator]();
      await nextItem(iterator);
      const pending = iterator.next();
      await delay(50);
      await (end === 'stop' ? subscription.stop() : store.close());
      assert.equal((await within(pending, `${end}() to end the subscription`, 1000)).done, true);
    });
  }

  it('lets exactly one of two store objects win the same expected revision', async () => {
    const [a, b] = [open(), open()];
    await a.append('origin-a', [event()], { expectedRevision: 'no_stream' });
    const results = await Promise.allSettled([
      a.append('origin-a', [event()], { expectedRevision: 0n }),
      b.append('origin-a', [event()], { expectedRevision: 0n }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    assert.ok(lost[0] instanceof ConcurrencyError, `lost with ${lost[0]}`);
    assert.equal(lost[0].actual, 1n);
    assert.equal(await b.streamRevision('origin-a'), 1n);
  });

  it('turns a write lock held past busy_timeout into StoreUnavailableError', async () => {
    const store = open({ busyTimeoutMs: 50 });
    const raw = new Database(path);
    try {
      raw.exec('BEGIN IMMEDIATE');
      await assert.rejects(store.append('origin-a', [event()]), StoreUnavailableError);
      assert.deepEqual(await store.readAll(), []);
      raw.exec('ROLLBACK');
      assert.equal((await store.append('origin-a', [event()])).nextExpectedRevision, 0n);
    } finally {
      raw.close();
    }
  });

  it('rejects input it could not store faithfully', async () => {
    const store = open();
    const repeated = event();
    await assert.rejects(store.append('s', [repeated, repeated]), TypeError);
    await assert.rejects(store.append('s', [event({ n: Number.NaN })]), TypeError);
    // Types cannot tell a class instance from a plain object; JSON would drop its prototype.
    class NotPlain {
      [key: string]: JsonValue;
    }
    await assert.rejects(store.append('s', [event({ at: new NotPlain() })]), TypeError);
    await assert.rejects(store.append('s', [event()], { expectedRevision: -1n }), TypeError);
    await assert.rejects(store.append('\ud800', [event()]), TypeError);
    await assert.rejects(store.readStream('s', { maxCount: 1.5 }), TypeError);
    assert.throws(() => openSqliteStore({ path, pollIntervalMs: 0 }), TypeError);
    assert.deepEqual(await store.readAll(), []);
  });
});

// Racing processes: the guarantee DESIGN.md leans on ("two processes started with the same node
// id fail loudly instead of forking the log") only shows between real processes.
describe('sqlite event store across processes', () => {
  const run = promisify(execFile);
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const module = (relative: string) => pathToFileURL(join(root, relative)).href;
  const racer = `
    import { openSqliteStore } from '${module('src/store/sqlite/sqlite-store.ts')}';
    import { ConcurrencyError } from '${module('src/store/errors.ts')}';
    const store = openSqliteStore({ path: process.env.DB, busyTimeoutMs: 30000 });
    // Barrier: announce readiness, then wait until every racer has, so they really race.
    await store.append('racers', [{ id: crypto.randomUUID(), type: 'Ready', data: {}, metadata: {} }]);
    while ((await store.streamRevision('racers')) !== BigInt(Number(process.env.RACERS) - 1)) {
      await new Promise((r) => setTimeout(r, 1));
    }
    const wins = [];
    let losses = 0;
    for (let round = 0; round < Number(process.env.ROUNDS); round++) {
      const expectedRevision = round === 0 ? 'no_stream' : BigInt(round - 1);
      const id = crypto.randomUUID();
      try {
        await store.append('origin-same', [{ id, type: 'Raced', data: {}, metadata: {} }], { expectedRevision });
        wins.push(id);
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
        losses++;
      }
    }
    await store.close();
    process.stdout.write(JSON.stringify({ wins, losses }));
  `;
  let dir: string;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('never forks a stream when several processes append with exact revisions', async () => {
    const path = join(dir, 'race.db');
    const [processes, rounds] = [4, 100];
    const env = { ...process.env, DB: path, ROUNDS: String(rounds), RACERS: String(processes) };
    const outputs = await Promise.all(
      Array.from({ length: processes }, () =>
        run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', racer], {
          cwd: root,
          env,
          timeout: 60_000, // a racer stuck at the barrier fails the test instead of hanging it
        }),
      ),
    );
    const results = outputs.map(({ stdout }) => parseRacer(stdout));
    const store = openSqliteStore({ path });
    try {
      const stream = await store.readStream('origin-same');
      const wins = results.flatMap((r) => r.wins);
      assert.equal(stream.length, rounds);
      assert.deepEqual(
        stream.map((e) => e.revision),
        Array.from({ length: rounds }, (_, i) => BigInt(i)),
      );
      assert.deepEqual(new Set(stream.map((e) => e.id)), new Set(wins));
      assert.equal(wins.length, rounds);
      for (const r of results) assert.equal(r.wins.length + r.losses, rounds);
    } finally {
      await store.close();
    }
  });
});

const parseRacer = (stdout: string): { wins: string[]; losses: number } => {
  const value: unknown = JSON.parse(stdout);
  if (
    typeof value === 'object' &&
    value !== null &&
    'wins' in value &&
    'losses' in value &&
    Array.isArray(value.wins) &&
    value.wins.every((w) => typeof w === 'string') &&
    typeof value.losses === 'number'
  ) {
    return { wins: value.wins, losses: value.losses };
  }
  throw new Error(`unexpected racer output: ${stdout}`);
};
