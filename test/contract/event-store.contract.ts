// The event store contract: every adapter (embedded SQLite, EventStoreDB) must pass it. It is
// written only against the port, and it does not assume the store starts empty: each test works
// in streams under its own fresh prefix, so a shared server can run it too.
// Every assert.ok carries a message: without one, a failing assert.ok re-reads the (transpiled)
// source to build its message, which hangs under tsx.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { ulid } from 'ulid';
import { ConcurrencyError, IdempotencyError } from '../../src/store/errors.ts';
import {
  comparePositions,
  type EventData,
  type EventStore,
  type ExpectedRevision,
  type JsonObject,
  type Position,
  type RecordedEvent,
  type SubscriptionItem,
} from '../../src/store/port.ts';

export type StoreFactory = () => Promise<{ store: EventStore; cleanup(): Promise<void> }>;

// Test data ------------------------------------------------------------------------------------

/** A prefix no other test (or earlier run against the same server) has used. */
const freshPrefix = (label: string): string => `${label}${ulid().toLowerCase()}-`;

let counter = 0;
const event = (data: JsonObject = {}, id: string = ulid()): EventData => {
  counter += 1;
  return { id, type: 'ContractTested', data: { n: counter, ...data }, metadata: { test: true } };
};
const events = (count: number): EventData[] => Array.from({ length: count }, () => event());

const ids = (list: readonly { readonly id: string }[]): string[] => list.map((e) => e.id);

const concurrency =
  (stream: string, expected: ExpectedRevision, actual: bigint | undefined) =>
  (error: unknown): boolean => {
    assert.ok(error instanceof ConcurrencyError, `expected ConcurrencyError, got ${error}`);
    assert.equal(error.stream, stream);
    assert.equal(error.expected, expected);
    assert.equal(error.actual, actual);
    return true;
  };

const idempotency =
  (stream: string) =>
  (error: unknown): boolean => {
    assert.ok(error instanceof IdempotencyError, `expected IdempotencyError, got ${error}`);
    assert.equal(error.stream, stream);
    return true;
  };

// Subscriptions --------------------------------------------------------------------------------

/** Fails instead of hanging when a subscription does not deliver. */
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

/** True when the promise is still unsettled after a while: a next() that really waits, so an
 * append made now is news to the subscription rather than something its next read finds. */
const stillPending = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await delay(50);
  return !settled;
};

const nextItem = async (
  iterator: AsyncIterator<SubscriptionItem>,
  what: string,
): Promise<SubscriptionItem> => {
  const result = await within(iterator.next(), what);
  assert.equal(result.done, false, `subscription ended while waiting for ${what}`);
  return result.value;
};

const nextEvent = async (iterator: AsyncIterator<SubscriptionItem>): Promise<RecordedEvent> => {
  const item = await nextItem(iterator, 'an event');
  assert.equal(item.kind, 'event', `expected an event, got ${item.kind}`);
  if (item.kind !== 'event') throw new Error('unreachable');
  return item.event;
};

const nextCaughtUp = async (
  iterator: AsyncIterator<SubscriptionItem>,
): Promise<Position | undefined> => {
  const item = await nextItem(iterator, 'caughtUp');
  assert.equal(item.kind, 'caughtUp', `expected caughtUp, got ${item.kind}`);
  if (item.kind !== 'caughtUp') throw new Error('unreachable');
  return item.position;
};

// The in-memory model for the property test ----------------------------------------------------

type ModelEvent = { stream: string; revision: bigint; id: string };
type Outcome =
  | { ok: bigint }
  | { error: 'concurrency'; actual: bigint | undefined }
  | { error: 'idempotency' };

const holds = (expected: ExpectedRevision, actual: bigint | undefined): boolean =>
  expected === 'any' ||
  (expected === 'no_stream' && actual === undefined) ||
  (expected === 'stream_exists' && actual !== undefined) ||
  expected === actual;

/** The port's append semantics, as simply as they can be said. */
const modelAppend = (
  log: ModelEvent[],
  stream: string,
  batch: readonly string[],
  expected: ExpectedRevision,
): Outcome => {
  const find = (id: string) => log.find((e) => e.id === id);
  const first = batch[0] === undefined ? undefined : find(batch[0]);
  if (first !== undefined) {
    const replayed = batch.map(find);
    const isRetry = replayed.every(
      (e, i) => e?.stream === stream && e.revision === first.revision + BigInt(i),
    );
    return isRetry ? { ok: first.revision + BigInt(batch.length - 1) } : { error: 'idempotency' };
  }
  const own = log.filter((e) => e.stream === stream);
  const actual = own.length === 0 ? undefined : BigInt(own.length - 1);
  if (!holds(expected, actual)) return { error: 'concurrency', actual };
  if (batch.some((id) => find(id) !== undefined)) return { error: 'idempotency' };
  batch.forEach((id, i) => {
    log.push({ stream, id, revision: BigInt(own.length + i) });
  });
  return { ok: BigInt(own.length + batch.length - 1) };
};

const storeAppend = async (
  store: EventStore,
  stream: string,
  batch: readonly string[],
  expectedRevision: ExpectedRevision,
): Promise<Outcome> => {
  try {
    const result = await store.append(
      stream,
      batch.map((id) => event({}, id)),
      { expectedRevision },
    );
    return { ok: result.nextExpectedRevision };
  } catch (error) {
    if (error instanceof ConcurrencyError) return { error: 'concurrency', actual: error.actual };
    if (error instanceof IdempotencyError) return { error: 'idempotency' };
    throw error;
  }
};

/** The same semantics for a store that checks ids only where the expected revision points
 * (EventStoreDB): an exact expectation behind the stream's end is a retry when the batch's ids are
 * the events after it, a partial repeat when only the first is, a conflict otherwise; an exact
 * expectation at the end writes whatever the ids. `any` and `stream_exists` look ids up by where
 * each was first written: a first id not in this stream writes, a batch that is all in this
 * stream is a retry only when it sits there contiguously and in order. */
const modelAppendPositional = (
  log: ModelEvent[],
  stream: string,
  batch: readonly string[],
  expected: ExpectedRevision,
): Outcome => {
  const own = log.filter((e) => e.stream === stream);
  const current = own.length === 0 ? undefined : BigInt(own.length - 1);
  const at = (revision: bigint) => (revision < 0n ? undefined : own[Number(revision)]?.id);
  const sitsAt = (start: bigint) => batch.every((id, i) => at(start + BigInt(i)) === id);
  const write = (): Outcome => {
    batch.forEach((id, i) => {
      log.push({ stream, id, revision: BigInt(own.length + i) });
    });
    return { ok: BigInt(own.length + batch.length - 1) };
  };
  if (expected === 'any' || expected === 'stream_exists') {
    if (expected === 'stream_exists' && current === undefined) {
      return { error: 'concurrency', actual: undefined };
    }
    const firstWritten = batch.map((id) => log.find((e) => e.id === id));
    if (firstWritten[0]?.stream !== stream) return write();
    if (!firstWritten.every((e) => e?.stream === stream)) return { error: 'idempotency' };
    const end = firstWritten.at(-1)!.revision;
    return sitsAt(end - BigInt(batch.length - 1)) ? { ok: end } : { error: 'idempotency' };
  }
  const after = expected === 'no_stream' ? -1n : expected;
  const last = current ?? -1n;
  if (after === last) return write();
  if (after > last || at(after + 1n) !== batch[0]) return { error: 'concurrency', actual: current };
  return sitsAt(after + 1n) ? { ok: after + BigInt(batch.length) } : { error: 'idempotency' };
};

/** What a store guarantees beyond what every adapter must. */
export type ContractCapabilities = {
  /** Every event id is stored at most once in the whole store: reusing one anywhere except in
   * an exact retry is refused with IdempotencyError (SQLite keeps a unique index of ids).
   * Without it (EventStoreDB) ids are only checked where the expected revision points, so a
   * batch that repeats an id stored elsewhere, or after new events, is written. */
  readonly uniqueEventIds: boolean;
};

const UNIQUE_IDS_ONLY = 'needs a store with unique event ids (capability uniqueEventIds)';

// The suite ------------------------------------------------------------------------------------

export const eventStoreContract = (
  name: string,
  factory: StoreFactory,
  capabilities: ContractCapabilities = { uniqueEventIds: true },
): void => {
  const { uniqueEventIds } = capabilities;
  const uniqueIdsOnly = { skip: uniqueEventIds ? false : UNIQUE_IDS_ONLY };
  describe(`event store contract: ${name}`, () => {
    let store: EventStore;
    let cleanup: () => Promise<void>;
    let prefix: string;
    const stream = (label = 's') => `${prefix}${label}`;

    beforeEach(async () => {
      ({ store, cleanup } = await factory());
      prefix = freshPrefix('contract');
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('append and expected revisions', () => {
      it('numbers a new stream from revision 0, as bigint', async () => {
        const s = stream();
        const result = await store.append(s, events(3), { expectedRevision: 'no_stream' });
        assert.equal(result.nextExpectedRevision, 2n);
        assert.equal(typeof result.position.commit, 'bigint');
        assert.equal(typeof result.position.prepare, 'bigint');
        const read = await store.readStream(s);
        assert.deepEqual(
          read.map((e) => e.revision),
          [0n, 1n, 2n],
        );
        assert.equal(await store.streamRevision(s), 2n);
        assert.deepEqual(read[2]?.position, result.position);
      });

      it('reports an unknown stream as having no revision', async () => {
        assert.equal(await store.streamRevision(stream('never')), undefined);
      });

      it('no_stream: passes on a new stream, fails once it exists', async () => {
        const s = stream();
        await store.append(s, [event()], { expectedRevision: 'no_stream' });
        await assert.rejects(
          store.append(s, [event()], { expectedRevision: 'no_stream' }),
          concurrency(s, 'no_stream', 0n),
        );
      });

      it('stream_exists: fails on a new stream, passes once it exists', async () => {
        const s = stream();
        await assert.rejects(
          store.append(s, [event()], { expectedRevision: 'stream_exists' }),
          concurrency(s, 'stream_exists', undefined),
        );
        assert.equal(await store.streamRevision(s), undefined);
        await store.append(s, [event()]);
        const result = await store.append(s, [event()], { expectedRevision: 'stream_exists' });
        assert.equal(result.nextExpectedRevision, 1n);
      });

      it('exact revision: passes when it is the last revision, fails behind or ahead', async () => {
        const s = stream();
        await assert.rejects(
          store.append(s, [event()], { expectedRevision: 0n }),
          concurrency(s, 0n, undefined),
        );
        await store.append(s, events(2), { expectedRevision: 'no_stream' });
        const result = await store.append(s, [event()], { expectedRevision: 1n });
        assert.equal(result.nextExpectedRevision, 2n);
        await assert.rejects(
          store.append(s, [event()], { expectedRevision: 1n }),
          concurrency(s, 1n, 2n),
        );
        await assert.rejects(
          store.append(s, [event()], { expectedRevision: 5n }),
          concurrency(s, 5n, 2n),
        );
      });

      it('any (and no option at all): appends whatever the stream holds', async () => {
        const s = stream();
        assert.equal(
          (await store.append(s, [event()], { expectedRevision: 'any' })).nextExpectedRevision,
          0n,
        );
        assert.equal(
          (await store.append(s, [event()], { expectedRevision: 'any' })).nextExpectedRevision,
          1n,
        );
        assert.equal((await store.append(s, [event()])).nextExpectedRevision, 2n);
      });

      it('writes nothing when the expected revision does not hold', async () => {
        const s = stream();
        await store.append(s, events(2));
        const failed = events(2);
        await assert.rejects(store.append(s, failed, { expectedRevision: 0n }), ConcurrencyError);
        assert.equal(await store.streamRevision(s), 1n);
        const all = await store.readAll({ streamPrefix: prefix });
        assert.equal(all.length, 2);
        assert.ok(!all.some((e) => failed.some((f) => f.id === e.id)), 'failed batch was written');
      });

      it('an empty batch answers with the current state, and still checks the expectation', async () => {
        const s = stream();
        const written = await store.append(s, events(2));
        assert.deepEqual(await store.append(s, [], { expectedRevision: 1n }), written);
        assert.deepEqual(await store.append(s, []), written);
        await assert.rejects(store.append(s, [], { expectedRevision: 0n }), concurrency(s, 0n, 1n));
        await assert.rejects(
          store.append(stream('none'), [], { expectedRevision: 'stream_exists' }),
          concurrency(stream('none'), 'stream_exists', undefined),
        );
        assert.equal((await store.readAll({ streamPrefix: prefix })).length, 2);
      });

      it('rejects an empty stream name', async () => {
        await assert.rejects(store.append('', [event()]), TypeError);
      });
    });

    describe('idempotent appends', () => {
      const snapshot = () => store.readAll({ streamPrefix: prefix });

      it('a retry with the same ids and expected revision returns the first result', async () => {
        const s = stream();
        await store.append(s, [event()]);
        const batch = events(3);
        const first = await store.append(s, batch, { expectedRevision: 0n });
        const before = await snapshot();
        const retried = await store.append(s, batch, { expectedRevision: 0n });
        assert.deepEqual(retried, first);
        assert.deepEqual(await snapshot(), before);
      });

      it('a retry with no_stream or any returns the first result', async () => {
        const s = stream();
        const batch = events(2);
        const first = await store.append(s, batch, { expectedRevision: 'no_stream' });
        const before = await snapshot();
        assert.deepEqual(await store.append(s, batch, { expectedRevision: 'no_stream' }), first);
        assert.deepEqual(await store.append(s, batch, { expectedRevision: 'any' }), first);
        assert.deepEqual(await store.append(s, batch), first);
        assert.deepEqual(await snapshot(), before);
      });

      it('a retry still succeeds after the stream has moved on', async () => {
        const s = stream();
        const batch = events(2);
        const first = await store.append(s, batch, { expectedRevision: 'no_stream' });
        await store.append(s, events(2), { expectedRevision: 1n });
        const before = await snapshot();
        assert.deepEqual(await store.append(s, batch, { expectedRevision: 'no_stream' }), first);
        assert.deepEqual(await snapshot(), before);
      });

      it('a batch that only partly repeats a stored one fails and writes nothing', async () => {
        const s = stream();
        const [a, b] = [event(), event()];
        await store.append(s, [a, b]);
        const before = await snapshot();
        const fresh = event();
        await assert.rejects(store.append(s, [a, fresh]), idempotency(s));
        await assert.rejects(store.append(s, [a, b, fresh]), idempotency(s));
        await assert.rejects(store.append(s, [b, a]), idempotency(s));
        assert.deepEqual(await snapshot(), before);
      });

      it(
        'a batch that repeats a stored id after new events fails and writes nothing',
        uniqueIdsOnly,
        async () => {
          const s = stream();
          const [a, b] = [event(), event()];
          await store.append(s, [a, b]);
          const before = await snapshot();
          await assert.rejects(
            store.append(s, [event(), a], { expectedRevision: 1n }),
            idempotency(s),
          );
          assert.deepEqual(await snapshot(), before);
        },
      );

      it('an id stored in another stream fails the whole batch', uniqueIdsOnly, async () => {
        const [s, other] = [stream('a'), stream('b')];
        const elsewhere = event();
        await store.append(other, [elsewhere]);
        await store.append(s, [event()]);
        const before = await snapshot();
        await assert.rejects(store.append(s, [elsewhere]), idempotency(s));
        await assert.rejects(store.append(s, [event(), elsewhere, event()]), idempotency(s));
        assert.deepEqual(await snapshot(), before);
        assert.equal(await store.streamRevision(s), 0n);
      });
    });

    describe('reading a stream', () => {
      const setup = async () => {
        const s = stream();
        const written = events(5);
        await store.append(stream('noise'), events(2));
        await store.append(s, written.slice(0, 2));
        await store.append(stream('noise'), events(1));
        await store.append(s, written.slice(2));
        return { s, written: written.map((e) => e.id) };
      };

      it('reads forwards, from an inclusive revision, up to maxCount', async () => {
        const { s, written } = await setup();
        assert.deepEqual(ids(await store.readStream(s)), written);
        assert.deepEqual(ids(await store.readStream(s, { fromRevision: 2n })), written.slice(2));
        assert.deepEqual(
          ids(await store.readStream(s, { fromRevision: 1n, maxCount: 2 })),
          written.slice(1, 3),
        );
        assert.deepEqual(await store.readStream(s, { fromRevision: 5n }), []);
      });

      it('reads backwards, from an inclusive revision, up to maxCount', async () => {
        const { s, written } = await setup();
        const reversed = [...written].reverse();
        assert.deepEqual(ids(await store.readStream(s, { direction: 'backwards' })), reversed);
        assert.deepEqual(
          ids(await store.readStream(s, { direction: 'backwards', maxCount: 2 })),
          reversed.slice(0, 2),
        );
        assert.deepEqual(
          ids(await store.readStream(s, { direction: 'backwards', fromRevision: 2n })),
          reversed.slice(2),
        );
        assert.deepEqual(
          ids(await store.readStream(s, { direction: 'backwards', fromRevision: 3n, maxCount: 2 })),
          [written[3], written[2]],
        );
      });

      it('reads an unknown stream as empty', async () => {
        assert.deepEqual(await store.readStream(stream('never')), []);
        assert.deepEqual(await store.readStream(stream('never'), { direction: 'backwards' }), []);
      });

      it('returns every field as written, with bigint revision and position', async () => {
        const s = stream();
        const written = event({ kind: 'full' });
        const result = await store.append(s, [written]);
        const [read] = await store.readStream(s);
        assert.deepEqual(read, { ...written, stream: s, revision: 0n, position: result.position });
      });

      it('round-trips JSON data and metadata: unicode, nesting, numbers', async () => {
        const data: JsonObject = {
          text: 'héllo wörld — 日本語 עברית 😀 e\u0301 \u0000 "quoted" \\ \n\t',
          '😀 key': { 'nested ключ': [1, -2.5, 1e300, 0, true, false, null, '', [], {}] },
          deep: { a: { b: { c: { d: [{ e: 'f' }] } } } },
          max: Number.MAX_SAFE_INTEGER,
          tiny: 5e-324,
        };
        const metadata: JsonObject = { correlationId: ulid(), unicode: '\u{1F680}\u{10FFFF}' };
        const s = stream();
        await store.append(s, [{ id: ulid(), type: 'Unicode😀Tested', data, metadata }]);
        const [read] = await store.readStream(s);
        assert.deepEqual(read?.data, data);
        assert.deepEqual(read?.metadata, metadata);
        assert.equal(read?.type, 'Unicode😀Tested');
      });
    });

    describe('reading the global log', () => {
      it('orders positions strictly increasing, as bigint', async () => {
        for (let i = 0; i < 4; i++) await store.append(stream(`s${i % 2}`), events(2));
        const all = await store.readAll();
        assert.ok(all.length >= 8, `readAll returned only ${all.length} events`);
        for (const [index, e] of all.entries()) {
          assert.equal(typeof e.position.commit, 'bigint');
          assert.equal(typeof e.position.prepare, 'bigint');
          assert.equal(typeof e.revision, 'bigint');
          const previous = all[index - 1];
          if (previous !== undefined) {
            assert.ok(
              comparePositions(previous.position, e.position) < 0,
              'positions not increasing',
            );
          }
        }
      });

      it('reads strictly after a position', async () => {
        const written = events(4);
        for (const e of written) await store.append(stream(), [e]);
        const all = await store.readAll({ streamPrefix: prefix });
        assert.deepEqual(ids(all), ids(written));
        const after = all[1]?.position;
        assert.ok(after, 'no second event');
        assert.deepEqual(
          ids(await store.readAll({ after, streamPrefix: prefix })),
          ids(all.slice(2)),
        );
        assert.deepEqual(ids(await store.readAll({ after, maxCount: 1, streamPrefix: prefix })), [
          all[2]?.id,
        ]);
        const last = all[3]?.position;
        assert.ok(last, 'no fourth event');
        assert.deepEqual(await store.readAll({ after: last, streamPrefix: prefix }), []);
      });

      it('filters by stream prefix, literally and case-sensitively', async () => {
        // Names chosen to catch LIKE/GLOB wildcards, ASCII case folding and upper bounds that
        // miss characters beyond U+FFFF.
        const p = `${prefix}_x%*?[`;
        const inside = [p, `${p}a`, `${p}😀`, `${p}\u{10FFFF}`, `${p}\uffff`];
        const outside = [
          `${prefix}Ax%*?[`,
          `${prefix}_xyz*?[`,
          `${prefix}_x%*?X`,
          `${prefix}_X%*?[`,
          `${prefix.toUpperCase()}_x%*?[`,
          `${prefix}_x%*?`,
          `${prefix}_x%*?\\`,
        ];
        for (const s of [...inside, ...outside]) await store.append(s, [event()]);
        const filtered = await store.readAll({ streamPrefix: p });
        assert.deepEqual(
          filtered.map((e) => e.stream),
          inside,
        );
      });

      it('pages through a filtered log without gaps or repeats', async () => {
        const written: string[] = [];
        for (let i = 0; i < 25; i++) {
          const e = event();
          await store.append(i % 3 === 0 ? stream('other') : stream(`in-${i % 2}`), [e]);
          if (i % 3 !== 0) written.push(e.id);
        }
        const seen: RecordedEvent[] = [];
        let after: Position | undefined;
        // Bounded, so a store that repeats the `after` event fails instead of looping forever.
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.readAll({ after, maxCount: 4, streamPrefix: `${prefix}in-` });
          assert.ok(page.length <= 4, `page of ${page.length} events`);
          if (page.length === 0) break;
          seen.push(...page);
          after = page[page.length - 1]?.position;
        }
        assert.deepEqual(ids(seen), written);
      });

      it('reads backwards from the end or strictly before a position, filtered', async () => {
        const written: string[] = [];
        for (let i = 0; i < 9; i++) {
          const e = event();
          await store.append(i % 3 === 0 ? `other${prefix}` : stream(), [e]);
          if (i % 3 !== 0) written.push(e.id);
        }
        const newestFirst = [...written].reverse();
        const all = await store.readAll({ direction: 'backwards', streamPrefix: prefix });
        assert.deepEqual(ids(all), newestFirst);
        const top2 = await store.readAll({
          direction: 'backwards',
          streamPrefix: prefix,
          maxCount: 2,
        });
        assert.deepEqual(ids(top2), newestFirst.slice(0, 2));
        const before = top2[1]?.position;
        assert.ok(before, 'no second event');
        const rest = await store.readAll({ direction: 'backwards', before, streamPrefix: prefix });
        assert.deepEqual(ids(rest), newestFirst.slice(2));
        await assert.rejects(store.readAll({ direction: 'backwards', after: before }), TypeError);
      });

      it('reports the head position: the last event of the whole log', async () => {
        await store.append(stream(), events(2));
        const head = await store.headPosition();
        assert.ok(head, 'no head position after appending');
        assert.equal(typeof head.commit, 'bigint');
        const [newest] = await store.readAll({ direction: 'backwards', maxCount: 1 });
        assert.deepEqual(head, newest?.position);
        assert.deepEqual(await store.readAll({ after: head }), []);
      });
    });

    describe('subscriptions', () => {
      it('delivers history, caughtUp once, then live events, until stopped', async () => {
        const historic = events(3);
        await store.append(stream('a'), historic.slice(0, 2));
        await store.append(stream('b'), historic.slice(2));
        await store.append(`${prefix.slice(0, -1)}+outside`, [event()]);
        const subscription = store.subscribe({ streamPrefix: prefix });
        const iterator = subscription[Symbol.asyncIterator]();
        const delivered: RecordedEvent[] = [];
        for (let i = 0; i < 3; i++) delivered.push(await nextEvent(iterator));
        assert.deepEqual(ids(delivered), ids(historic));
        assert.deepEqual(await nextCaughtUp(iterator), delivered[2]?.position);

        const live = [event(), event()];
        const waiting = iterator.next();
        assert.ok(
          await stillPending(waiting),
          'with nothing new, next() waits (no second caughtUp)',
        );
        await store.append(`${prefix.slice(0, -1)}+outside`, [event()]);
        await store.append(stream('b'), [live[0]!]);
        const first = await within(waiting, 'a live event');
        assert.equal(
          first.done === false && first.value.kind === 'event' && first.value.event.id,
          live[0]?.id,
        );
        await store.append(stream('a'), [live[1]!]);
        const second = await nextEvent(iterator);
        assert.equal(second.id, live[1]?.id);
        assert.equal(second.revision, 2n);

        const pending = iterator.next();
        assert.ok(await stillPending(pending), 'next() did not wait for news');
        await subscription.stop();
        assert.deepEqual(await within(pending, 'stop to end a pending next()'), {
          done: true,
          value: undefined,
        });
        assert.equal((await iterator.next()).done, true);
      });

      it('starts strictly after a given position', async () => {
        await store.append(stream(), events(3));
        const all = await store.readAll({ streamPrefix: prefix });
        const subscription = store.subscribe({ after: all[0]?.position, streamPrefix: prefix });
        const iterator = subscription[Symbol.asyncIterator]();
        assert.deepEqual((await nextEvent(iterator)).id, all[1]?.id);
        assert.deepEqual((await nextEvent(iterator)).id, all[2]?.id);
        assert.deepEqual(await nextCaughtUp(iterator), all[2]?.position);
        await subscription.stop();
      });

      it('reports caughtUp at the start position when there is nothing to deliver', async () => {
        const empty = store.subscribe({ streamPrefix: prefix });
        assert.equal(await nextCaughtUp(empty[Symbol.asyncIterator]()), undefined);
        await empty.stop();

        const written = await store.append(stream(), [event()]);
        const from = store.subscribe({ after: written.position, streamPrefix: prefix });
        assert.deepEqual(await nextCaughtUp(from[Symbol.asyncIterator]()), written.position);
        await from.stop();
      });

      it('delivers an event appended while a next() is pending', async () => {
        const subscription = store.subscribe({ streamPrefix: prefix });
        const iterator = subscription[Symbol.asyncIterator]();
        await nextCaughtUp(iterator);
        const pending = iterator.next();
        assert.ok(await stillPending(pending), 'next() did not wait for news');
        const live = event();
        await store.append(stream(), [live]);
        const item = await within(pending, 'a live event');
        assert.equal(
          item.done === false && item.value.kind === 'event' && item.value.event.id,
          live.id,
        );
        await subscription.stop();
      });

      it('ends when the consumer breaks out or throws', async () => {
        await store.append(stream(), events(3));
        const subscription = store.subscribe({ streamPrefix: prefix });
        await assert.rejects(async () => {
          for await (const item of subscription) {
            if (item.kind === 'event') throw new Error('consumer failed');
          }
        }, /consumer failed/);

        const other = store.subscribe({ streamPrefix: prefix });
        const iterator = other[Symbol.asyncIterator]();
        await nextEvent(iterator);
        assert.deepEqual(await iterator.return?.(), { done: true, value: undefined });
        assert.equal((await within(iterator.next(), 'an ended subscription')).done, true);
        await subscription.stop();
        await other.stop();
      });
    });

    it('behaves like the in-memory model for any sequence of appends', async () => {
      const command = fc.record({
        stream: fc.nat(2),
        batch: fc.uniqueArray(fc.nat(7), { minLength: 1, maxLength: 3 }),
        expected: fc.oneof(
          fc.constantFrom<ExpectedRevision>('any', 'no_stream', 'stream_exists'),
          fc.bigInt(0n, 4n),
        ),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(command, { maxLength: 12 }), async (commands) => {
          // Fresh ids and streams per run: the store keeps what earlier runs (and shrinking
          // replays) wrote, and the model must start from the same empty state.
          const run = freshPrefix('model');
          const pool = Array.from({ length: 8 }, () => ulid());
          const log: ModelEvent[] = [];
          for (const { stream: n, batch, expected } of commands) {
            const s = `${run}${n}`;
            const batchIds = batch.map((i) => pool[i] ?? '');
            const want = (uniqueEventIds ? modelAppend : modelAppendPositional)(
              log,
              s,
              batchIds,
              expected,
            );
            assert.deepEqual(await storeAppend(store, s, batchIds, expected), want);
          }
          const all = await store.readAll({ streamPrefix: run });
          assert.deepEqual(
            all.map(({ stream: s, revision, id }) => ({ stream: s, revision, id })),
            log,
          );
        }),
        { numRuns: 60 },
      );
    });
  });
};
