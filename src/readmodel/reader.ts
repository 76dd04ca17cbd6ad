import type Database from 'better-sqlite3';
import type { Reader, SqlRow } from './projection.ts';

/** Prepares each distinct SQL text once per connection. */
export const statementCache = (db: Database.Database): ((text: string) => Database.Statement) => {
  const statements = new Map<string, Database.Statement>();
  return (text) => {
    let s = statements.get(text);
    if (!s) {
      s = db.prepare(text);
      statements.set(text, s);
    }
    return s;
  };
};

/** A Reader over one connection (sharing the connection's statement cache when given it). */
export const createReader = (db: Database.Database, prepare = statementCache(db)): Reader => ({
  get: (text, ...params) => prepare(text).get(...params) as SqlRow | undefined,
  all: (text, ...params) => prepare(text).all(...params) as SqlRow[],
});
