// The baselines: what plain better-sqlite3 does with the same rows, the same pragmas and the same
// durability, with none of authlog's checks, decisions or projections in the way.
import Database from 'better-sqlite3';

export type RawRow = {
  readonly stream: string;
  readonly revision: bigint;
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
};

// The shape of the store's events table (src/store/sqlite/schema.ts), so indexes cost the same.
const EVENTS_DDL = `CREATE TABLE events (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  stream   TEXT    NOT NULL,
  revision INTEGER NOT NULL CHECK (revision >= 0),
  id       TEXT    NOT NULL UNIQUE,
  type     TEXT    NOT NULL,
  data     TEXT    NOT NULL,
  metadata TEXT    NOT NULL,
  UNIQUE (stream, revision)
) STRICT`;

const MAX_INT64 = 9223372036854775807n;

const INSERT =
  'INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (@stream, @revision, @id, @type, @data, @metadata)';

const openWal = (path: string, synchronous: 'FULL' | 'NORMAL'): Database.Database => {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  return db;
};

export type RawLog = {
  /** Inserts `rows` in transactions of `batchSize` rows (1: every row commits on its own);
   * returns the milliseconds it took. */
  insert(rows: readonly RawRow[], batchSize: number): number;
  close(): void;
};

/** A fresh events table with the store's pragmas: WAL and synchronous=FULL. */
export const openRawLog = (path: string): RawLog => {
  const db = openWal(path, 'FULL');
  db.exec(EVENTS_DDL);
  const insert = db.prepare<[RawRow]>(INSERT);
  const commitBatch = db.transaction((batch: readonly RawRow[]) => {
    for (const row of batch) insert.run(row);
  });
  return {
    insert(rows, batchSize) {
      const started = performance.now();
      for (let i = 0; i < rows.length; i += batchSize) {
        commitBatch(rows.slice(i, i + batchSize));
      }
      return performance.now() - started;
    },
    close: () => db.close(),
  };
};

/**
 * The rebuild baseline: reads every row of the store file's events table in log order and
 * inserts one row per event into a fresh table of another file, in one transaction, with the
 * read model's pragmas (WAL, synchronous=NORMAL). Timed from opening the target to the commit.
 * `upTo` stops at that position, to compare with a rebuild that ran out of time.
 */
export const rawRebuild = (
  sourcePath: string,
  targetPath: string,
  options: { readonly upTo?: bigint; readonly onProgress?: (events: number) => void } = {},
): { readonly events: number; readonly ms: number } => {
  const source = new Database(sourcePath, { readonly: true });
  const started = performance.now();
  const target = openWal(targetPath, 'NORMAL');
  try {
    target.exec(
      'CREATE TABLE copy (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, revision INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL)',
    );
    const insert = target.prepare<[RawRow & { position: bigint }]>(
      'INSERT INTO copy (position, stream, revision, id, type, data, metadata) VALUES (@position, @stream, @revision, @id, @type, @data, @metadata)',
    );
    const select = source
      .prepare<[bigint], RawRow & { position: bigint }>(
        'SELECT position, stream, revision, id, type, data, metadata FROM events WHERE position <= ? ORDER BY position',
      )
      .safeIntegers(true);
    let events = 0;
    target.transaction(() => {
      for (const row of select.iterate(options.upTo ?? MAX_INT64)) {
        insert.run(row);
        events += 1;
        if (events % 50_000 === 0) options.onProgress?.(events);
      }
    })();
    options.onProgress?.(events);
    return { events, ms: performance.now() - started };
  } finally {
    target.close();
    source.close();
  }
};
