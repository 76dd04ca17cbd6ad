// The read model: one SQLite file per node, disposable and rebuilt from the log at any time.
// Two connections: the writer (the projector and command decisions, one at a time through the
// node's writer queue) and the reader (queries), which in WAL mode sees only committed state.
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { bootMarkerPath, currentBootId, markClosed, markOpen, tornByReboot } from './boot-guard.ts';
import type { Projection } from './projection.ts';
import { REGISTER_CONFLICTS, REGISTER_DDL } from './registers.ts';

export type ReadModel = {
  readonly path: string;
  readonly writer: Database.Database;
  readonly reader: Database.Database;
  readonly projections: readonly Projection[];
  close(): void;
};

const BOOKKEEPING_DDL = [
  'CREATE TABLE _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  // The applied version vector: highest seq applied per origin.
  'CREATE TABLE _applied (origin TEXT PRIMARY KEY, seq INTEGER NOT NULL)',
  // Store positions up to which a subscription has applied or skipped every event.
  'CREATE TABLE _checkpoint (name TEXT PRIMARY KEY, position TEXT NOT NULL)',
];

export class ReadModelSchemaError extends Error {
  override readonly name = 'ReadModelSchemaError';
}

/** The file is damaged (SQLite's check found it so) and was not to be reset. */
export class ReadModelCorruptError extends Error {
  override readonly name = 'ReadModelCorruptError';
}

/** Fingerprint of everything that shapes the read model; a file made by other code is stale. */
export const schemaFingerprint = (projections: readonly Projection[]): string => {
  const h = createHash('sha256');
  for (const p of projections) {
    h.update(
      `${p.name}\0${[...p.ddl, ...(p.queryIndexes ?? [])].join('\0')}\0${JSON.stringify(p.seed ?? [], (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}\0${(p.conflicts ?? []).join('\0')}\0`,
    );
    h.update(Object.keys(p.handlers).sort().join(','));
  }
  h.update(REGISTER_DDL.join('\0'));
  h.update(REGISTER_CONFLICTS);
  return h.digest('hex').slice(0, 16);
};

const conflictsView = (projections: readonly Projection[]): string => {
  const parts = [REGISTER_CONFLICTS, ...projections.flatMap((p) => p.conflicts ?? [])];
  const body =
    parts.length > 0
      ? parts.join('\nUNION ALL\n')
      : 'SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0';
  return `CREATE VIEW conflicts (kind, scope, subject, winner, detail, hlc) AS ${body}`;
};

const pragmas = (
  db: Database.Database,
  options: OpenReadModelOptions,
  synchronous: 'NORMAL' | 'OFF',
) => {
  // A rebuild target has no reader until it is complete: a rollback journal in memory writes
  // each page once, where WAL writes it to the log and again at the checkpoint. The swapped-in
  // file is opened in WAL mode like any other.
  db.pragma(`journal_mode = ${options.journal ?? 'WAL'}`);
  // The read model is rebuilt from the durable log after any loss, and its checkpoint commits
  // with its rows, so losing the last transactions only means re-applying them. The live file
  // is written unsynced where a machine crash can be told (boot-guard.ts), NORMAL elsewhere; a
  // rebuild target needs no sync at all until it is complete (it is fsynced before the swap).
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = OFF');
  // The writer's working set (claim and register indexes, the rows an event touches) stays in
  // memory: 64 MiB instead of SQLite's 2 MiB default, allocated as pages are used.
  db.pragma('cache_size = -65536');
};

export type OpenReadModelOptions = {
  /** What to do with a file that cannot be used as it is — made by a different schema, or
   * damaged (it fails SQLite's `quick_check`, or is not a database at all): refuse, or start it
   * afresh (the log rebuilds it). */
  readonly onStale?: 'throw' | 'reset';
  /** OFF for a file that is thrown away unless completed (a rebuild target). Unset: unsynced
   * writes guarded by the boot id (boot-guard.ts) where there is one, NORMAL elsewhere. */
  readonly synchronous?: 'NORMAL' | 'OFF';
  /** Called before a file left open by an earlier boot of the machine is thrown away. */
  readonly onTorn?: (path: string) => void;
  /** Called before a damaged file is thrown away, with what SQLite found. */
  readonly onCorrupt?: (path: string, damage: string) => void;
  /** MEMORY for a rebuild target (see pragmas); WAL otherwise. */
  readonly journal?: 'WAL' | 'MEMORY';
  /** Leave out the projections' query indexes; `createQueryIndexes` adds them when done. */
  readonly deferQueryIndexes?: boolean;
};

/** What SQLite says when it finds a file damaged, or undefined for any other failure. */
const damageOf = (error: unknown): string | undefined =>
  error instanceof Database.SqliteError &&
  (error.code.startsWith('SQLITE_CORRUPT') || error.code === 'SQLITE_NOTADB')
    ? `${error.code}: ${error.message}`
    : undefined;

type Examined =
  | { readonly db: Database.Database }
  | { readonly stale: true }
  | { readonly damage: string };

// `quick_check` walks every page of every b-tree (page headers, cell bounds, free space, the
// free list); `integrity_check` also compares every index with its table. On a read model of
// 30,000 events (30 MB) quick_check took 40-44 ms, integrity_check 133-138 ms; 300,000 events:
// 454 ms. Both found 4 KiB of random bytes written anywhere in the file, 100 times out of 100.
const QUICK_CHECK = 'quick_check(8)';

/** Opens the file and says whether it can be used: SQLite's check finds no damage (nothing to
 * check in memory) and its schema is this code's. */
const examine = (open: () => Database.Database, fingerprint: string, check: boolean): Examined => {
  let db: Database.Database | undefined;
  try {
    db = open();
    if (check) {
      const found = (db.pragma(QUICK_CHECK) as { quick_check: string }[])
        .map((r) => r.quick_check)
        .filter((m) => m !== 'ok');
      if (found.length > 0) {
        db.close();
        return { damage: found.join('; ') };
      }
    }
    const hasMeta = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_meta'")
      .get();
    const schema = hasMeta
      ? (db.prepare("SELECT value FROM _meta WHERE key = 'schema'").get() as
          | { value: string }
          | undefined)
      : undefined;
    if (hasMeta && schema?.value !== fingerprint) {
      db.close();
      return { stale: true };
    }
    return { db };
  } catch (error) {
    db?.close();
    const damage = damageOf(error);
    if (damage === undefined) throw error;
    return { damage };
  }
};

export const openReadModel = (
  path: string,
  projections: readonly Projection[],
  options: OpenReadModelOptions = {},
): ReadModel => {
  const fingerprint = schemaFingerprint(projections);
  const bootId =
    options.synchronous === undefined && path !== ':memory:' ? currentBootId() : undefined;
  const synchronous = options.synchronous ?? (bootId === undefined ? 'NORMAL' : 'OFF');
  // The one way a file is thrown away, whether torn by a machine crash, made by other
  // projections or damaged: catch-up then applies the whole log to a fresh one.
  const discard = () => {
    removeReadModelFiles(path);
    if (bootId !== undefined) markOpen(path, bootId);
  };
  if (bootId !== undefined) {
    if (tornByReboot(path, bootId)) {
      options.onTorn?.(path);
      discard();
    } else markOpen(path, bootId);
  }
  const open = (): Database.Database => {
    const db = new Database(path);
    try {
      pragmas(db, options, synchronous);
    } catch (error) {
      db.close();
      throw error;
    }
    return db;
  };
  const check = path !== ':memory:';
  let examined = examine(open, fingerprint, check);
  if (!('db' in examined)) {
    if (options.onStale !== 'reset' || path === ':memory:') {
      if (bootId !== undefined) markClosed(path);
      throw 'stale' in examined
        ? new ReadModelSchemaError(
            `read model ${path} was built by another version of the projections (run: authlog rebuild)`,
          )
        : new ReadModelCorruptError(
            `read model ${path} is damaged (${examined.damage}); run: authlog rebuild`,
          );
    }
    if ('damage' in examined) options.onCorrupt?.(path, examined.damage);
    discard();
    examined = examine(open, fingerprint, check);
    if (!('db' in examined)) throw new Error(`read model ${path}: a new file is not usable`);
  }
  const writer = examined.db;
  const fresh = !writer
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_meta'")
    .get();
  if (fresh) {
    writer.transaction(() => {
      for (const ddl of [...BOOKKEEPING_DDL, ...REGISTER_DDL, ...projections.flatMap((p) => p.ddl)])
        writer.exec(ddl);
      if (!options.deferQueryIndexes) for (const ddl of queryIndexes(projections)) writer.exec(ddl);
      writer.exec(conflictsView(projections));
      for (const s of projections.flatMap((p) => p.seed ?? []))
        writer.prepare(s.sql).run(...s.params);
      writer.prepare("INSERT INTO _meta (key, value) VALUES ('schema', ?)").run(fingerprint);
    })();
  }
  const reader = path === ':memory:' ? writer : new Database(path, { readonly: true });
  if (reader !== writer) reader.pragma('busy_timeout = 5000');
  return {
    path,
    writer,
    reader,
    projections,
    close() {
      if (reader !== writer) reader.close();
      if (bootId !== undefined) {
        // Sync before the mark goes: NORMAL makes the checkpoint fsync the WAL before copying
        // it and the file after, so every committed transaction is on disk when it returns.
        writer.pragma('synchronous = NORMAL');
        writer.pragma('wal_checkpoint(TRUNCATE)');
      }
      writer.close();
      if (bootId !== undefined) markClosed(path);
    },
  };
};

const queryIndexes = (projections: readonly Projection[]): string[] =>
  projections.flatMap((p) => p.queryIndexes ?? []);

/** Adds the query indexes a read model opened with `deferQueryIndexes` left out. */
export const createQueryIndexes = (rm: ReadModel): void => {
  rm.writer.transaction(() => {
    for (const ddl of queryIndexes(rm.projections)) rm.writer.exec(ddl);
  })();
};

export const removeReadModelFiles = (path: string): void => {
  for (const file of [path, `${path}-wal`, `${path}-shm`, bootMarkerPath(path)])
    rmSync(file, { force: true });
};

/** Empties every table of the read model but its bookkeeping and seeds it again, inside the
 * caller's transaction: a replay in place (src/node/reproject.ts) applies the log into it. */
export const clearReadModel = (rm: ReadModel): void => {
  const db = rm.writer;
  const tables = (
    db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT IN ('_meta', '_applied', '_checkpoint')",
      )
      .all() as { name: string }[]
  ).map((t) => t.name);
  for (const t of tables) db.prepare(`DELETE FROM "${t}"`).run();
  for (const s of rm.projections.flatMap((p) => p.seed ?? [])) db.prepare(s.sql).run(...s.params);
};
