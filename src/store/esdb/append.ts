// Appends through the client's production path (BatchAppend when the server offers it) and
// turns the server's answer into the port's. EventStoreDB deduplicates by position: a batch whose
// ids are already the stream's events right after the expected revision is acknowledged without
// writing (the retry the writer relies on). It says "wrong expected version" both for a real
// conflict and for a batch that only partly repeats stored events; one read of the event after
// the expected revision tells the two apart. With `any` or `stream_exists` the server dedupes by
// a cache of recent ids, so the adapter reads the batch back to check it sits where it claims.
import {
  type AppendExpectedRevision,
  type EventStoreDBClient,
  jsonEvent,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { ConcurrencyError, IdempotencyError } from '../errors.ts';
import type { AppendResult, EventData, ExpectedRevision, Position } from '../port.ts';
import { toStoreError } from './errors.ts';
import { ulidToUuid } from './ids.ts';
import { consume, convert } from './records.ts';

type StreamEvent = { readonly id: string; readonly revision: bigint; readonly position: Position };

/** Reads `count` events from `fromRevision` on, with their ids as the server stores them (UUIDs).
 * Every read is consumed to its end: a read abandoned half-way keeps its gRPC call open, and the
 * client's dispose() would wait for it forever. */
const readRaw = async (
  client: EventStoreDBClient,
  stream: string,
  fromRevision: bigint | 'end',
  count: number,
  direction: 'forwards' | 'backwards' = 'forwards',
): Promise<StreamEvent[]> => {
  const found: StreamEvent[] = [];
  try {
    const reader = client.readStream(stream, { fromRevision, maxCount: count, direction });
    await consume(reader, (resolved) => {
      const converted = convert(resolved.event);
      if (converted.event === undefined) {
        throw new Error(
          `stream ${stream} holds an event authlog did not write (${converted.foreign})`,
        );
      }
      found.push({
        id: resolved.event!.id,
        revision: converted.event.revision,
        position: converted.event.position,
      });
    });
  } catch (error) {
    if (isStreamNotFound(error)) return [];
    throw toStoreError(error, `a read of ${stream}`);
  }
  return found;
};

export const isStreamNotFound = (error: unknown): boolean =>
  error instanceof Error && 'type' in error && error.type === 'stream-not-found';

const holds = (expected: ExpectedRevision, actual: bigint | undefined): boolean =>
  expected === 'any' ||
  (expected === 'no_stream' && actual === undefined) ||
  (expected === 'stream_exists' && actual !== undefined) ||
  expected === actual;

/** Last revision and position of a stream, or undefined when it does not exist. */
export const lastOf = async (
  client: EventStoreDBClient,
  stream: string,
): Promise<{ revision: bigint; position: Position } | undefined> => {
  const [last] = await readRaw(client, stream, 'end', 1, 'backwards');
  return last === undefined ? undefined : { revision: last.revision, position: last.position };
};

// Nothing to write: answer with the stream's state (revision -1 and the start of the log for a
// missing stream, as the SQLite adapter does) after checking the expectation ourselves.
const appendNothing = async (
  client: EventStoreDBClient,
  stream: string,
  expected: ExpectedRevision,
): Promise<AppendResult> => {
  const last = await lastOf(client, stream);
  if (!holds(expected, last?.revision))
    throw new ConcurrencyError(stream, expected, last?.revision);
  return {
    nextExpectedRevision: last?.revision ?? -1n,
    position: last?.position ?? { commit: 0n, prepare: 0n },
  };
};

/** The server's "wrong expected version", said precisely: a conflict, or a partial repeat. */
const explainWrongVersion = async (
  client: EventStoreDBClient,
  stream: string,
  events: readonly EventData[],
  expected: ExpectedRevision,
  error: WrongExpectedVersionError,
): Promise<Error> => {
  const actual = typeof error.actualVersion === 'bigint' ? error.actualVersion : undefined;
  const first = events[0]!;
  if (expected === 'any') return new IdempotencyError(stream, first.id);
  if (expected === 'stream_exists') {
    return actual === undefined
      ? new ConcurrencyError(stream, expected, undefined)
      : new IdempotencyError(stream, first.id);
  }
  const after = expected === 'no_stream' ? -1n : expected;
  if (actual !== undefined && actual > after) {
    const [next] = await readRaw(client, stream, after + 1n, 1);
    if (next?.id === ulidToUuid(first.id)) return new IdempotencyError(stream, first.id);
  }
  return new ConcurrencyError(stream, expected, actual);
};

const toClientExpected = (expected: ExpectedRevision): AppendExpectedRevision => expected;

export const appendEvents = async (
  client: EventStoreDBClient,
  stream: string,
  events: readonly EventData[],
  expected: ExpectedRevision,
): Promise<AppendResult> => {
  if (events.length === 0) return appendNothing(client, stream, expected);
  const proposed = events.map((e) =>
    jsonEvent({ id: ulidToUuid(e.id), type: e.type, data: e.data, metadata: e.metadata }),
  );
  let revision: bigint;
  let position: Position | undefined;
  try {
    const result = await client.appendToStream(stream, proposed, {
      expectedRevision: toClientExpected(expected),
    });
    revision = result.nextExpectedRevision;
    position = result.position;
  } catch (error) {
    if (error instanceof WrongExpectedVersionError) {
      throw await explainWrongVersion(client, stream, events, expected, error);
    }
    throw toStoreError(error, `an append to ${stream}`);
  }
  // With an exact expectation the server checked the batch's place itself. Otherwise it matched
  // ids anywhere in the stream (or wrote them fresh): read the batch's place back.
  const exact = expected !== 'any' && expected !== 'stream_exists';
  if (exact && position !== undefined) return { nextExpectedRevision: revision, position };
  const start = revision - BigInt(events.length - 1);
  const placed = start < 0n ? [] : await readRaw(client, stream, start, events.length);
  const inPlace =
    placed.length === events.length && placed.every((e, i) => e.id === proposed[i]!.id);
  if (!inPlace) {
    if (exact)
      throw new Error(`append to ${stream} succeeded but its events are not where the server said`);
    throw new IdempotencyError(stream, events[0]!.id);
  }
  return { nextExpectedRevision: revision, position: placed.at(-1)!.position };
};
