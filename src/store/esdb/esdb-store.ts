// The EventStoreDB (KurrentDB) adapter of the event store port, over `@eventstore/db-client`.
// Stream revisions are the server's own (0-based), positions are its `$all` (commit, prepare)
// pairs, and event ids (ULIDs) travel as the UUIDs with the same 128 bits (ids.ts). Semantics
// that differ from the embedded store are written down in docs/eventstoredb.md.
import { EventStoreDBClient, type Filter, START, streamNameFilter } from '@eventstore/db-client';
import type {
  EventStore,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from '../port.ts';
import {
  assertEvents,
  assertExpectedRevision,
  assertPosition,
  assertPrefix,
  assertReadAllOptions,
  assertReadStreamOptions,
  assertStreamName,
} from '../validate.ts';
import { appendEvents, isStreamNotFound, lastOf } from './append.ts';
import { toStoreError } from './errors.ts';
import { isUlid } from './ids.ts';
import { readAllMatching, scanPage } from './read-all.ts';
import { consume, convert, toPosition } from './records.ts';
import { type LiveFeed, openEsdbSubscription, type ReconnectPolicy } from './subscription.ts';

export type EsdbStoreOptions = {
  /** `esdb://host:2113` (TLS on unless `?tls=false`), or `esdb+discover://` for a cluster. */
  readonly connectionString: string;
  /** How subscriptions wait before resubscribing after a drop (default 100 ms doubling to 5 s). */
  readonly reconnect?: Partial<ReconnectPolicy>;
};

// Printable ASCII prefixes go to the server as a prefix filter. The server compares prefixes
// with .NET's culture-aware StartsWith, which for other characters (combining marks, ignorable
// code points) may disagree with a literal comparison; those go as an anchored regular
// expression, which .NET matches ordinally. Either way events are checked again here.
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const DOTNET_REGEX_SPECIALS = /[\\*+?|{}[\]()^$.#\s]/g;

const serverFilter = (prefix: string): Filter =>
  PRINTABLE_ASCII.test(prefix)
    ? streamNameFilter({ prefixes: [prefix] })
    : streamNameFilter({ regex: `^${prefix.replace(DOTNET_REGEX_SPECIALS, (c) => `\\${c}`)}` });

const assertIds = (events: readonly { readonly id: string }[]): void => {
  events.forEach((event, index) => {
    if (!isUlid(event.id)) {
      throw new TypeError(
        `events[${index}].id ${JSON.stringify(event.id)}: the EventStoreDB adapter stores canonical ULIDs (as UUIDs)`,
      );
    }
  });
};

const assertUserStream = (stream: string): void => {
  assertStreamName(stream);
  if (stream.startsWith('$')) {
    throw new TypeError(`stream ${stream}: names starting with $ belong to EventStoreDB`);
  }
};

const DISPOSE_TIMEOUT_MS = 2000;

export const openEsdbStore = (options: EsdbStoreOptions): EventStore => {
  const client = EventStoreDBClient.connectionString(options.connectionString);
  const policy: ReconnectPolicy = { minDelayMs: 100, maxDelayMs: 5000, ...options.reconnect };
  const subscriptions = new Set<Subscription>();
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new Error('the event store is closed');
  };

  const openLive = (after: Position | undefined, prefix: string | undefined): LiveFeed => {
    const subscription = client.subscribeToAll({
      fromPosition: after ?? START,
      ...(prefix ? { filter: serverFilter(prefix) } : {}),
    });
    return {
      async *[Symbol.asyncIterator]() {
        for await (const resolved of subscription) {
          const position = toPosition(resolved.event?.position);
          if (position === undefined) continue;
          const { event } = convert(resolved.event);
          const matches = event !== undefined && (!prefix || event.stream.startsWith(prefix));
          yield { position, event: matches ? event : undefined };
        }
      },
      close: async () => {
        await subscription.unsubscribe().catch(() => undefined);
        subscription.destroy();
      },
    };
  };

  return {
    kind: 'esdb',

    async append(stream, events, appendOptions) {
      const expected: ExpectedRevision = appendOptions?.expectedRevision ?? 'any';
      assertUserStream(stream);
      assertExpectedRevision(expected);
      assertEvents(events);
      assertIds(events);
      assertOpen();
      return appendEvents(client, stream, events, expected);
    },

    async readStream(stream, readOptions: ReadStreamOptions = {}) {
      assertUserStream(stream);
      assertReadStreamOptions(readOptions);
      assertOpen();
      const { direction = 'forwards', fromRevision, maxCount } = readOptions;
      if (maxCount === 0) return [];
      const found: RecordedEvent[] = [];
      try {
        const reader = client.readStream(stream, {
          direction,
          fromRevision: fromRevision ?? (direction === 'forwards' ? 'start' : 'end'),
          ...(maxCount === undefined ? {} : { maxCount }),
        });
        await consume(reader, (resolved) => {
          const converted = convert(resolved.event);
          if (converted.event === undefined) {
            throw new Error(
              `stream ${stream}: an event authlog cannot read (${converted.foreign})`,
            );
          }
          found.push(converted.event);
        });
      } catch (error) {
        if (isStreamNotFound(error)) return [];
        throw toStoreError(error, `a read of ${stream}`);
      }
      return found;
    },

    async streamRevision(stream) {
      assertUserStream(stream);
      assertOpen();
      return (await lastOf(client, stream))?.revision;
    },

    async readAll(readOptions: ReadAllOptions = {}) {
      assertReadAllOptions(readOptions);
      const { direction = 'forwards', after, before, maxCount, streamPrefix } = readOptions;
      assertOpen();
      if (maxCount === 0) return [];
      return readAllMatching(client, {
        direction,
        from: direction === 'forwards' ? after : before,
        maxCount,
        prefix: streamPrefix || undefined,
      });
    },

    async headPosition() {
      assertOpen();
      const [newest] = await readAllMatching(client, {
        direction: 'backwards',
        from: undefined,
        maxCount: 1,
        prefix: undefined,
      });
      return newest?.position;
    },

    subscribe(subscribeOptions: SubscribeOptions = {}) {
      const { after, streamPrefix } = subscribeOptions;
      assertPosition(after);
      assertPrefix(streamPrefix);
      assertOpen();
      const prefix = streamPrefix || undefined;
      const subscription = openEsdbSubscription(
        {
          readPage: (from) => scanPage(client, 'forwards', from, prefix),
          openLive: (from) => openLive(from, prefix),
        },
        after,
        policy,
        () => subscriptions.delete(subscription),
      );
      subscriptions.add(subscription);
      return subscription;
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...subscriptions].map((s) => s.stop()));
      // dispose() waits for every call the client opened to finish; a BatchAppend stream the
      // server already ended never does (client 6.2), so a shutdown does not wait for it.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.dispose(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, DISPOSE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    },
  };
};
