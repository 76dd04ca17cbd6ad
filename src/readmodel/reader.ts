import type Database from 'better-sqlite3';
import type { Reader, SqlRow } from './projection.ts';

/** A Reader over one connection, preparing each distinct SQL text once. */
export const createReader = (db: Database.Database): Reader => {
  const statements = new Map<string, Database.Statement>();
  const prepare = (text: string): Database.Statement => {
    let s = statements.get(text);
    if (!s) {
      s = db.prepare(text);
      statements.set(text, s);
    }
    return s;
  };
  return {
    get: (text, ...params) => prepare(text).get(...params) as SqlRow | undefined,
    all: (text, ...params) => prepare(text).all(...params) as SqlRow[],
  };
};
