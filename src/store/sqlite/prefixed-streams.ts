import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * What follows `prefix` in the names of the streams an SQLite event log holds (the origins of a
 * log, for `origin-`), read without writing to it: start-up asks this of a data folder that does
 * not remember its node id. One index seek per stream: each query skips every event of the
 * stream found before.
 */
export const prefixedStreamsInSqliteLog = (path: string, prefix: string): string[] => {
  if (!existsSync(path) || prefix.length === 0) return [];
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const table = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'")
      .get();
    if (table === undefined) return [];
    const next = db
      .prepare('SELECT stream FROM events WHERE stream > ? AND stream < ? ORDER BY stream LIMIT 1')
      .pluck();
    // Every name that starts with the prefix sorts before the prefix with its last character
    // incremented ('origin-' → 'origin.').
    const end = `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`;
    const names: string[] = [];
    let after = prefix;
    for (;;) {
      const stream = next.get(after, end);
      if (typeof stream !== 'string') return names;
      names.push(stream.slice(prefix.length));
      after = stream;
    }
  } finally {
    db.close();
  }
};
