import type Database from 'better-sqlite3';
import { type JsonObject, type Position, type RecordedEvent, STORED_JSON } from '../port.ts';
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

// Reads of the global log by position range, in one direction.
const rangeStatements = (db: Database.Database, order: 'ASC' | 'DESC') => ({
  all: db
    .prepare<[bigint, bigint, number], EventRow>(`${ALL} ORDER BY position ${order} LIMIT ?`)
    .safeIntegers(true),
  allInRange: db
    .prepare<[bigint, bigint, string, string, number], EventRow>(
      `${ALL} AND stream >= ? AND stream < ? ORDER BY position ${order} LIMIT ?`,
    )
    .safeIntegers(true),
  allFrom: db
    .prepare<[bigint, bigint, string, number], EventRow>(
      `${ALL} AND stream >= ? ORDER BY position ${order} LIMIT ?`,
    )
    .safeIntegers(true),
});

const suffixed = <T extends Record<string, unknown>>(o: T, suffix: 'Desc') =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [`${k}${suffix}`, v])) as {
    [K in keyof T as `${K & string}Desc`]: T[K];
  };

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
  ...rangeStatements(db, 'ASC'),
  ...suffixed(rangeStatements(db, 'DESC'), 'Desc'),
});

export type Statements = ReturnType<typeof prepareStatements>;

/** Rows with after < position <= until, optionally of streams starting with `prefix`, in log
 * order (or reverse log order when `backwards`). A `limit` of -1 means no limit (SQLite's
 * convention). */
export const readAllRows = (
  statements: Statements,
  range: {
    readonly after: bigint;
    readonly until: bigint;
    readonly limit: number;
    readonly backwards?: boolean;
  },
  prefix: string | undefined,
): EventRow[] => {
  const { after, until, limit } = range;
  const s = range.backwards
    ? {
        all: statements.allDesc,
        allFrom: statements.allFromDesc,
        allInRange: statements.allInRangeDesc,
      }
    : statements;
  if (prefix === undefined || prefix === '') return s.all.all(after, until, limit);
  const bound = prefixUpperBound(prefix);
  return bound === undefined
    ? s.allFrom.all(after, until, prefix, limit)
    : s.allInRange.all(after, until, prefix, bound, limit);
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

/** Data and metadata are parsed on first use: a feed serves the stored text as is, and the
 * catch-up subscription skips events it has applied without looking at their data. */
export const toRecorded = (row: EventRow): RecordedEvent => {
  let data: JsonObject | undefined;
  let metadata: JsonObject | undefined;
  const recorded: RecordedEvent = {
    id: row.id,
    type: row.type,
    get data() {
      data ??= parseJsonObject(row.data, 'data');
      return data;
    },
    get metadata() {
      metadata ??= parseJsonObject(row.metadata, 'metadata');
      return metadata;
    },
    stream: row.stream,
    revision: row.revision,
    position: toPosition(row.position),
  };
  // Not enumerable: the record still compares equal to a plain object with the same fields.
  Object.defineProperty(recorded, STORED_JSON, {
    value: { data: row.data, metadata: row.metadata },
  });
  return recorded;
};
