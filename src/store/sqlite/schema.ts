import Database from 'better-sqlite3';

export type Synchronous = 'FULL' | 'NORMAL';

const SCHEMA_VERSION = 1;

// The rowid is the global position. AUTOINCREMENT keeps positions from ever being handed out
// twice, even if rows are one day deleted (scavenging), because subscribers persist them.
// UNIQUE (stream, revision) doubles as the index for stream reads, the last revision of a
// stream and stream-prefix ranges; UNIQUE (id) is the idempotency lookup.
const DDL = `
CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  stream   TEXT    NOT NULL,
  revision INTEGER NOT NULL CHECK (revision >= 0),
  id       TEXT    NOT NULL UNIQUE,
  type     TEXT    NOT NULL,
  data     TEXT    NOT NULL,
  metadata TEXT    NOT NULL,
  UNIQUE (stream, revision)
) STRICT;
`;

/** Opens (creating if needed) the event log file with the pragmas the store relies on. */
export const openDatabase = (
  path: string,
  synchronous: Synchronous,
  busyTimeoutMs: number,
): Database.Database => {
  // `timeout` is better-sqlite3's name for sqlite3_busy_timeout: how long a writer waits for
  // another connection's write lock before SQLITE_BUSY.
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal' && !db.memory) {
      throw new Error(`${path}: could not switch to WAL journal mode (got ${String(mode)})`);
    }
    // FULL fsyncs the WAL on every commit, so an acknowledged append survives power loss.
    db.pragma(`synchronous = ${synchronous}`);
    db.transaction(() => {
      const version = db.pragma('user_version', { simple: true });
      if (typeof version !== 'number' || version > SCHEMA_VERSION) {
        throw new Error(`${path}: event log schema ${String(version)} is newer than this build`);
      }
      db.exec(DDL);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
};
