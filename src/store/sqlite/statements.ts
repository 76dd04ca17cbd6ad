import type Database from 'better-sqlite3';
import type { JsonObject, Position, RecordedEvent } from '../port.ts';
import { prefixUpperBound } from './prefix-range.ts';

export type EventRow = {
  readonly position: bigint;
  readonly stream: string;
  readonly revision: bigint;
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
};

type Located = { readonly position: bigint; readonly revision: bigint };

const COLUMNS = 'position, stream, revision, id, type, data, metadata';
// `position <= ?` lets subscriptions read up to a head they measured first (see readPage).
const ALL = `SELECT ${COLUMNS} FROM events WHERE position > ? AND position <= ?`;

/** Every statement the store runs, prepared once. Integer columns come back as bigint. */
export const prepareStatements = (db: Database.Database) => ({
  insert: db
    .prepare<[string, bigint, string, string, string, string]>(
      'INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)',
    )
    .safeIntegers(true),
  lastOfStream: db
    .prepare<[string], Located>(
      'SELECT position, revision FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1',
    )
    .safeIntegers(true),
  byId: db
    .prepare<[string], Located & { readonly stream: string }>(
      'SELECT position, revision, stream FROM events WHERE id = ?',
    )
    .safeIntegers(true),
  idsFrom: db
    .prepare<[string, bigint, number], Located & { readonly id: string }>(
      'SELECT position, revision, id FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?',
    )
    .safeIntegers(true),
  head: db
    .prepare<[], bigint>('SELECT position FROM events ORDER BY position DESC LIMIT 1')
    .pluck()
    .safeIntegers(true),
  streamForwards: db
    .prepare<[string, bigint, number], EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`,
    )
    .safeIntegers(true),
  streamBackwards: db
    .prepare<[string, bigint, number], EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`,
    )
    .safeIntegers(true),
  all: db
    .prepare<[bigint, bigint, number], EventRow>(`${ALL} ORDER BY position LIMIT ?`)
    .safeIntegers(true),
  allInRange: db
    .prepare<[bigint, bigint, string, string, number], EventRow>(
      `${ALL} AND stream >= ? AND stream < ? ORDER BY position LIMIT ?`,
    )
    .safeIntegers(true),
  allFrom: db
    .prepare<[bigint, bigint, string, number], EventRow>(
      `${ALL} AND stream >= ? ORDER BY position LIMIT ?`,
    )
    .safeIntegers(true),
});

export type Statements = ReturnType<typeof prepareStatements>;

/** Rows with after < position <= until, optionally of streams starting with `prefix`, in log
 * order. A `limit` of -1 means no limit (SQLite's convention). */
export const readAllRows = (
  statements: Statements,
  range: { readonly after: bigint; readonly until: bigint; readonly limit: number },
  prefix: string | undefined,
): EventRow[] => {
  const { after, until, limit } = range;
  if (prefix === undefined || prefix === '') return statements.all.all(after, until, limit);
  const bound = prefixUpperBound(prefix);
  return bound === undefined
    ? statements.allFrom.all(after, until, prefix, limit)
    : statements.allInRange.all(after, until, prefix, bound, limit);
};

export const toPosition = (rowid: bigint): Position => ({ commit: rowid, prepare: rowid });

const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// Only the store writes these columns, always from JSON.stringify of a checked JSON object.
const parseJsonObject = (text: string, column: string): JsonObject => {
  const value: unknown = JSON.parse(text);
  if (!isJsonObject(value)) throw new Error(`corrupt event log: ${column} is not an object`);
  return value;
};

export const toRecorded = (row: EventRow): RecordedEvent => ({
  id: row.id,
  type: row.type,
  data: parseJsonObject(row.data, 'data'),
  metadata: parseJsonObject(row.metadata, 'metadata'),
  stream: row.stream,
  revision: row.revision,
  position: toPosition(row.position),
});
