import type {
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  SubscribeOptions,
} from '../port.ts';
import {
  assertEvents,
  assertExpectedRevision,
  assertPosition,
  assertPrefix,
  assertReadAllOptions,
  assertReadStreamOptions,
  assertStreamName,
  MAX_INT64,
} from '../validate.ts';
import { appendTransaction } from './append.ts';
import { mapSqliteErrors } from './errors.ts';
import { openDatabase, type Synchronous } from './schema.ts';
import { prepareStatements, readAllRows, toPosition, toRecorded } from './statements.ts';
import { type LiveHandle, openSubscription, type Page } from './subscription.ts';

export type SqliteStoreOptions = {
  readonly path: string;
  /** FULL (default) makes every acknowledged append durable; NORMAL may lose the last ones on
   * power loss (never on a process crash) and is much faster. */
  readonly synchronous?: Synchronous;
  /** How often a waiting subscription looks for events appended by other processes. */
  readonly pollIntervalMs?: number;
  /** How long an append waits for another process's write lock (default 5000). */
  readonly busyTimeoutMs?: number;
};

// Subscriptions read this many events at a time, and never more ahead of their consumer.
const PAGE_SIZE = 1000;

const assertPositiveMs = (value: number, what: string): void => {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${what} must be positive`);
};

/** The embedded event store: one SQLite file in WAL mode, shared safely by several processes. */
export const openSqliteStore = (options: SqliteStoreOptions): EventStore => {
  const { path, synchronous = 'FULL', pollIntervalMs = 100, busyTimeoutMs = 5000 } = options;
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL') {
    throw new TypeError(`synchronous must be FULL or NORMAL, not ${String(synchronous)}`);
  }
  assertPositiveMs(pollIntervalMs, 'pollIntervalMs');
  assertPositiveMs(busyTimeoutMs, 'busyTimeoutMs');

  const db = mapSqliteErrors(() => openDatabase(path, synchronous, busyTimeoutMs));
  const statements = prepareStatements(db);
  const append = appendTransaction(db, statements);
  const live = new Set<LiveHandle>();
  let closed = false;

  // All work is synchronous (better-sqlite3), so each call is atomic with respect to the others.
  const assertOpen = (): void => {
    if (closed) throw new Error('the event store is closed');
  };
  const run = <T>(operation: () => T): T => {
    assertOpen();
    return mapSqliteErrors(operation);
  };

  // Measuring the head first makes "scanned up to head" true even when nothing matched: writers
  // are serialized, so every position up to a visible head is committed and visible.
  const readPage = (scanAfter: bigint, prefix: string | undefined): Page => {
    const head = statements.head.get() ?? 0n;
    if (head <= scanAfter) return { events: [], scannedTo: scanAfter };
    const rows = readAllRows(
      statements,
      { after: scanAfter, until: head, limit: PAGE_SIZE },
      prefix,
    );
    const last = rows[rows.length - 1];
    const scannedTo = rows.length === PAGE_SIZE && last !== undefined ? last.position : head;
    return { events: rows.map(toRecorded), scannedTo };
  };

  return {
    kind: 'sqlite',

    async append(stream, events, appendOptions) {
      const expected: ExpectedRevision = appendOptions?.expectedRevision ?? 'any';
      assertStreamName(stream);
      assertExpectedRevision(expected);
      assertEvents(events);
      const { result, written } = run(() => append.immediate(stream, events, expected));
      if (written) for (const handle of live) handle.notify();
      return result;
    },

    async readStream(stream, readOptions: ReadStreamOptions = {}) {
      assertStreamName(stream);
      assertReadStreamOptions(readOptions);
      const { direction = 'forwards', fromRevision, maxCount = -1 } = readOptions;
      const rows = run(() =>
        direction === 'forwards'
          ? statements.streamForwards.all(stream, fromRevision ?? 0n, maxCount)
          : statements.streamBackwards.all(stream, fromRevision ?? MAX_INT64, maxCount),
      );
      return rows.map(toRecorded);
    },

    async streamRevision(stream) {
      assertStreamName(stream);
      return run(() => statements.lastOfStream.get(stream))?.revision;
    },

    async readAll(readOptions: ReadAllOptions = {}) {
      assertReadAllOptions(readOptions);
      const { direction = 'forwards', after, before, maxCount, streamPrefix } = readOptions;
      const range =
        direction === 'forwards'
          ? { after: after?.commit ?? 0n, until: MAX_INT64, limit: maxCount ?? -1 }
          : {
              after: 0n,
              until: before ? before.commit - 1n : MAX_INT64,
              limit: maxCount ?? -1,
              backwards: true,
            };
      return run(() => readAllRows(statements, range, streamPrefix)).map(toRecorded);
    },

    async headPosition() {
      const head = run(() => statements.head.get());
      return head === undefined ? undefined : toPosition(head);
    },

    subscribe(subscribeOptions: SubscribeOptions = {}) {
      const { after, streamPrefix } = subscribeOptions;
      assertPosition(after);
      assertPrefix(streamPrefix);
      assertOpen();
      const source = {
        readPage: (scanAfter: bigint) => run(() => readPage(scanAfter, streamPrefix)),
        register: (handle: LiveHandle) => {
          live.add(handle);
          return () => {
            live.delete(handle);
          };
        },
        pollIntervalMs,
      };
      return openSubscription(source, after);
    },

    async close() {
      if (closed) return;
      for (const handle of [...live]) handle.stop();
      closed = true;
      db.close();
    },
  };
};
