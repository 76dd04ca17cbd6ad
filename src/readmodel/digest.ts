// digest(): a canonical hash of every read-model table, leaving out node-local bookkeeping
// (tables whose name starts with `_`). Rows are hashed in the order of all their columns, so the
// digest depends on content only, not on insertion order or rowids.
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

const tag = (v: unknown): string => {
  if (v === null) return 'n';
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `i${v}` : `r${v}`;
  if (typeof v === 'string') return `s${v.length}:${v}`;
  if (Buffer.isBuffer(v)) return `b${v.toString('hex')}`;
  return `?${String(v)}`;
};

export const digestTables = (db: Database.Database): string[] =>
  (
    db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
      )
      .all() as { name: string }[]
  ).map((r) => r.name);

export const digest = (db: Database.Database): string => {
  const h = createHash('sha256');
  for (const table of digestTables(db)) {
    const columns = (db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string }[]).map(
      (c) => c.name,
    );
    h.update(`T${table}(${columns.join(',')})\n`);
    const order = columns.map((_c, i) => String(i + 1)).join(', ');
    const rows = db
      .prepare(`SELECT * FROM "${table}" ORDER BY ${order}`)
      .raw(true)
      .safeIntegers(true);
    for (const row of rows.iterate() as IterableIterator<unknown[]>) {
      h.update(row.map(tag).join('|'));
      h.update('\n');
    }
  }
  return h.digest('hex');
};
