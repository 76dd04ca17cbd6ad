// The one place SQLite's errors become the port's (src/store/errors.ts). The read model is
// SQLite too: the writer queue maps what the projector throws here as well, so a full disk reads
// the same whichever file it hit.
import Database from 'better-sqlite3';
import { StoreFullError, StoreUnavailableError } from '../errors.ts';

/** The port's error for a SQLite failure, or the error itself when the port has none for it.
 *
 * - SQLITE_BUSY: a lock that outlasted busy_timeout, retryable: StoreUnavailableError. An outage
 *   is never mistaken for a conflict.
 * - SQLITE_FULL: the disk (or `max_page_count`) is full: StoreFullError. Nothing was written:
 *   the statement that hit it fails before its transaction commits, and a COMMIT that hits it is
 *   rolled back by SQLite itself (better-sqlite3 rolls back what is left open). In WAL mode a
 *   commit is visible only once its commit frame is written whole and the WAL index moved past
 *   it, which a failed write never does; after a crash, recovery drops frames whose checksums do
 *   not hold. */
export const storeErrorOf = (error: unknown): unknown => {
  if (!(error instanceof Database.SqliteError)) return error;
  if (error.code.startsWith('SQLITE_BUSY')) {
    return new StoreUnavailableError('the event log is locked by another writer', {
      cause: error,
    });
  }
  if (error.code.startsWith('SQLITE_FULL')) {
    return new StoreFullError('the disk holding the database is full', { cause: error });
  }
  return error;
};

/** Runs a database operation, throwing the port's errors for SQLite's (storeErrorOf). */
export const mapSqliteErrors = <T>(operation: () => T): T => {
  try {
    return operation();
  } catch (error) {
    throw storeErrorOf(error);
  }
};
