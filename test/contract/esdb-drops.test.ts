// Threat: a catch-up subscription that dies with its server connection (restart, leader change,
// network) and either stops feeding the read model, skips what was written meanwhile, or
// delivers an event twice. The FAKE server is killed mid-subscription and restarted on the same
// port with the same data; the subscription must resume where it was, exactly once, in order.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ulid } from 'ulid';
import { StoreUnavailableError } from '../../src/store/errors.ts';
import { openEsdbStore } from '../../src/store/esdb/esdb-store.ts';
import { ulidToUuid } from '../../src/store/esdb/ids.ts';
import type { EventData, EventStore, Subscription } from '../../src/store/port.ts';
import type { FakeLog } from '../support/esdb-fake/fake-log.ts';
import { type FakeEsdb, startFakeEsdb } from '../support/esdb-fake/fake-server.ts';

const event = (): EventData => ({ id: ulid(), type: 'DropTested', data: {}, metadata: {} });
const batch = (n: number) => Array.from({ length: n }, event);

const until = async (check: () => boolean, what: string, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
};

/** Appends like the writer does: the same ids and expected revision again while unavailable. */
const appendRetrying = async (store: EventStore, stream: string, events: EventData[]) => {
  const expectedRevision = (await retry(() => store.streamRevision(stream))) ?? 'no_stream';
  return retry(() => store.append(stream, events, { expectedRevision }));
};
const retry = async <T>(operation: () => Promise<T>): Promise<T> => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof StoreUnavailableError) || attempt > 100) throw error;
      await delay(20);
    }
  }
};

/** Events another node committed while this one's connection was down, written straight into
 * the fake's log in the form the client would have sent. */
const commitBehindTheScenes = (log: FakeLog, stream: string, events: EventData[]) => {
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const outcome = log.append(
    stream,
    'any',
    events.map((e) => ({
      id: ulidToUuid(e.id),
      type: e.type,
      contentType: 'application/json',
      data: json(e.data),
      metadata: json(e.metadata),
    })),
  );
  assert.equal(outcome.kind, 'written');
};

/** Consumes a subscription in the background, recording what it delivers. */
const record = (subscription: Subscription) => {
  const seen: string[] = [];
  let caughtUp = 0;
  const done = (async () => {
    for await (const item of subscription) {
      if (item.kind === 'caughtUp') caughtUp += 1;
      else seen.push(item.event.id);
    }
  })();
  return {
    seen,
    caughtUps: () => caughtUp,
    done,
  };
};

/** The ids of the log's `prefix` streams, in `$all` order: what a subscription must deliver. */
const expectedIds = async (store: EventStore, prefix: string) =>
  (await retry(() => store.readAll({ streamPrefix: prefix }))).map((e) => e.id);

describe('esdb subscription drops', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const start = async (options: Parameters<typeof startFakeEsdb>[0] = {}) => {
    const fake = await startFakeEsdb(options);
    cleanups.push(() => fake.stop());
    return fake;
  };
  const open = (fake: FakeEsdb, onDrop?: (error: unknown) => void) => {
    const store = openEsdbStore({
      connectionString: fake.connectionString,
      reconnect: { minDelayMs: 10, maxDelayMs: 100, ...(onDrop ? { onDrop } : {}) },
    });
    cleanups.push(() => store.close());
    return store;
  };

  it('resumes after the server is killed and restarted: nothing missed, nothing twice', async () => {
    const first = await start();
    const drops: unknown[] = [];
    const reader = open(first, (error) => drops.push(error));
    const writer = open(first);
    await writer.append('origin-a', batch(5));
    await writer.append('other-x', batch(2)); // outside the prefix
    const subscription = reader.subscribe({ streamPrefix: 'origin-' });
    const consumer = record(subscription);
    await until(() => consumer.caughtUps() === 1 && consumer.seen.length === 5, 'history');
    await writer.append('origin-b', batch(2));
    await until(() => consumer.seen.length === 7, 'live events');

    first.kill();
    commitBehindTheScenes(first.log, 'origin-c', batch(3));
    commitBehindTheScenes(first.log, 'other-y', batch(1));
    await until(() => drops.length > 0, 'the subscription to notice the drop');
    await delay(150); // a few failed resubscriptions while the server is down
    const second = await start({ port: first.port, log: first.log });
    await appendRetrying(writer, 'origin-a', batch(2));
    await appendRetrying(writer, 'origin-d', batch(1));

    const want = await expectedIds(writer, 'origin-');
    assert.equal(want.length, 13);
    await until(() => consumer.seen.length >= want.length, 'everything after the restart');
    await delay(100); // anything delivered twice would arrive now
    assert.deepEqual(consumer.seen, want);
    assert.equal(consumer.caughtUps(), 1, 'caughtUp is said once, not after every resubscription');
    await subscription.stop();
    await consumer.done;
    await reader.close();
    await writer.close();
    await second.stop();
  });

  it('resumes after the server ends the subscription on its own, again and again', async () => {
    const fake = await start();
    const drops: unknown[] = [];
    const reader = open(fake, (error) => drops.push(error));
    const writer = open(fake);
    const subscription = reader.subscribe({ streamPrefix: 'origin-', after: undefined });
    const consumer = record(subscription);
    await until(() => consumer.caughtUps() === 1, 'caughtUp');
    for (let round = 0; round < 5; round++) {
      await writer.append(`origin-${round % 2}`, batch(3));
      fake.endSubscriptions();
      await writer.append('origin-z', batch(1));
    }
    const want = await expectedIds(writer, 'origin-');
    await until(() => consumer.seen.length >= want.length, 'every event');
    await delay(100);
    assert.deepEqual(consumer.seen, want);
    assert.ok(drops.length >= 1, 'the server never ended the subscription');
    await subscription.stop();
    await consumer.done;
  });

  it('a consumer that lags behind live events loses nothing across a drop', async () => {
    const fake = await start();
    const drops: unknown[] = [];
    const reader = open(fake, (error) => drops.push(error));
    const writer = open(fake);
    const subscription = reader.subscribe({ streamPrefix: 'origin-' });
    const iterator = subscription[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).value?.kind, 'caughtUp');
    // Far more live events than the stream buffers hold, while the consumer takes none.
    for (let i = 0; i < 6; i++) await writer.append('origin-lag', batch(100));
    const seen: string[] = [];
    const take = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const item = await iterator.next();
        assert.ok(!item.done && item.value.kind === 'event', 'expected an event');
        if (!item.done && item.value.kind === 'event') seen.push(item.value.event.id);
      }
    };
    await take(250);
    fake.endSubscriptions();
    await writer.append('origin-lag', batch(10));
    await take(360);
    assert.deepEqual(seen, await expectedIds(writer, 'origin-'));
    assert.equal(drops.length, 1, 'the live subscription was not dropped');
    await subscription.stop();
  });

  it('stop() ends a subscription that is waiting for a server that is gone', async () => {
    const fake = await start();
    const reader = open(fake);
    const subscription = reader.subscribe({ streamPrefix: 'origin-' });
    const iterator = subscription[Symbol.asyncIterator]();
    assert.equal((await iterator.next()).done, false); // caughtUp
    const pending = iterator.next();
    fake.kill();
    await delay(100);
    await subscription.stop();
    const timeout = delay(1000).then(() => 'still pending');
    assert.deepEqual(await Promise.race([pending, timeout]), { done: true, value: undefined });
  });
});
