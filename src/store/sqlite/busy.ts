import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.ts';

/** Runs a database operation, turning a lock that outlasted busy_timeout into the port's
 * retryable StoreUnavailableError. Every other failure passes through unchanged, so an outage
 * is never mistaken for a conflict. */
export const mapBusy = <T>(operation: () => T): T => {
  try {
    return operation();
  } catch (error) {
    if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY')) {
      throw new StoreUnavailableError('the event log is locked by another writer', {
        cause: error,
      });
    }
    throw error;
  }
};
