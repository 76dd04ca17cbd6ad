import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ORIGIN_STREAM_PREFIX } from '../events/envelope.ts';

/**
 * The origins whose streams an SQLite event log holds, read without writing to it (start-up asks
 * this of a data folder that does not remember its node id). One index seek per origin: each
 * query skips every event of the origin found before.
 */
export const originsInSqliteLog = (path: string): string[] => {
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const table = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'")
      .get();
    if (table === undefined) return [];
    // Streams of origins are `origin-<id>`, and '.' is the character after '-'.
    const next = db
      .prepare('SELECT stream FROM events WHERE stream > ? AND stream < ? ORDER BY stream LIMIT 1')
      .pluck();
    const end = `${ORIGIN_STREAM_PREFIX.slice(0, -1)}.`;
    const origins: string[] = [];
    let after = ORIGIN_STREAM_PREFIX;
    for (;;) {
      const stream = next.get(after, end);
      if (typeof stream !== 'string') return origins;
      origins.push(stream.slice(ORIGIN_STREAM_PREFIX.length));
      after = stream;
    }
  } finally {
    db.close();
  }
};
