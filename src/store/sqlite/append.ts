import type Database from 'better-sqlite3';
import { ConcurrencyError, IdempotencyError } from '../errors.ts';
import type { AppendResult, EventData, ExpectedRevision } from '../port.ts';
import { type Statements, toPosition } from './statements.ts';

export type AppendOutcome = { readonly result: AppendResult; readonly written: boolean };

const holds = (expected: ExpectedRevision, actual: bigint | undefined): boolean => {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === undefined;
    case 'stream_exists':
      return actual !== undefined;
    default:
      return actual === expected;
  }
};

/** Builds the append transaction. Run it with `.immediate(...)`: BEGIN IMMEDIATE takes the
 * write lock before the expected revision is read, so no other connection can append between
 * the check and the insert. */
export const appendTransaction = (db: Database.Database, statements: Statements) => {
  // The batch was stored before (a retry after a lost answer) when its ids are, in order, the
  // stream's events from where the first one sits. Anything else reusing ids is a mistake.
  const replay = (stream: string, events: readonly EventData[], first: EventData) => {
    const stored = statements.byId.get(first.id);
    if (stored === undefined) return undefined;
    if (stored.stream !== stream) throw new IdempotencyError(stream, first.id);
    const rows = statements.idsFrom.all(stream, stored.revision, events.length);
    events.forEach((event, index) => {
      if (rows[index]?.id !== event.id) throw new IdempotencyError(stream, event.id);
    });
    const last = rows[rows.length - 1] ?? stored;
    return { nextExpectedRevision: last.revision, position: toPosition(last.position) };
  };

  return db.transaction(
    (stream: string, events: readonly EventData[], expected: ExpectedRevision): AppendOutcome => {
      // Idempotency comes before the expected-revision check: a retry carries the expected
      // revision of its first attempt, which no longer holds once that attempt succeeded.
      const first = events[0];
      const replayed = first === undefined ? undefined : replay(stream, events, first);
      if (replayed !== undefined) return { result: replayed, written: false };

      const last = statements.lastOfStream.get(stream);
      if (!holds(expected, last?.revision)) {
        throw new ConcurrencyError(stream, expected, last?.revision);
      }
      if (first === undefined) {
        // Nothing to write. A missing stream answers with revision -1 (EventStoreDB's own
        // spelling of "no stream") and the start of the log.
        const result = {
          nextExpectedRevision: last?.revision ?? -1n,
          position: toPosition(last?.position ?? 0n),
        };
        return { result, written: false };
      }
      for (const event of events) {
        if (statements.byId.get(event.id) !== undefined) {
          throw new IdempotencyError(stream, event.id);
        }
      }

      let revision = last === undefined ? 0n : last.revision + 1n;
      let position = 0n;
      for (const event of events) {
        const { id, type, data, metadata } = event;
        const info = statements.insert.run(
          stream,
          revision,
          id,
          type,
          JSON.stringify(data),
          JSON.stringify(metadata),
        );
        position = BigInt(info.lastInsertRowid);
        revision += 1n;
      }
      const result = { nextExpectedRevision: revision - 1n, position: toPosition(position) };
      return { result, written: true };
    },
  );
};
