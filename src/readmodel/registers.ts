// Convergence registers (DESIGN.md section 5), as generic SQL-emitting helpers that every
// projection uses. Delivery is causal, so a write arrives after every write it dominates; each
// helper keeps, per register, only what is needed to derive the visible value from the set of
// writes that no other write dominates, and that derivation does not depend on arrival order.
// The property test in test/property/convergence.test.ts holds them to that.
import type { Envelope } from '../events/envelope.ts';
import { type SqlValue, type Statement, sql } from './projection.ts';

type Key = Readonly<Record<string, SqlValue>>;

const whereText = (cols: readonly string[]): string => cols.map((c) => `${c} = ?`).join(' AND ');

// SQL text by shape (table, columns). A projection calls these helpers once or more per event
// with a few dozen distinct shapes in all; building the text anew every time, and hashing the
// fresh string in the projector's statement cache, cost a tenth of a rebuild. One string per
// shape makes the statement cache's lookup a pointer comparison.
const texts = new Map<string, string>();
const textOf = (shape: string, build: () => string): string => {
  let text = texts.get(shape);
  if (text === undefined) {
    text = build();
    texts.set(shape, text);
  }
  return text;
};

// ---------------------------------------------------------------------------------------------
// LWW: highest HLC wins. HLC order extends happened-before, so the highest HLC is always in the
// non-dominated set and a register needs only its current value and that value's HLC.

export type LwwRegister = {
  /** Column holding the HLC of the write that set the value. */
  readonly hlcColumn: string;
  /** Columns set together by one write (e.g. email and its normalized key). */
  readonly values: Readonly<Record<string, SqlValue>>;
};

const hlcRegisterUpdate = (
  newer: '<' | '>',
  table: string,
  key: Key,
  registers: readonly LwwRegister[],
  hlc: string,
): Statement => {
  const keyColumns = Object.keys(key);
  const columns = registers.map((r) => Object.keys(r.values));
  const params: SqlValue[] = [];
  registers.forEach((r, i) => {
    for (const col of columns[i]!) params.push(hlc, r.values[col] as SqlValue);
    params.push(hlc, hlc);
  });
  for (const c of keyColumns) params.push(key[c] as SqlValue);
  const shape = `${newer}${table}|${keyColumns}|${registers.map((r, i) => `${r.hlcColumn}:${columns[i]}`).join('|')}`;
  const text = textOf(shape, () => {
    const sets: string[] = [];
    registers.forEach((r, i) => {
      const wins = `(${r.hlcColumn} IS NULL OR ${r.hlcColumn} ${newer} ?)`;
      for (const col of columns[i]!) sets.push(`${col} = CASE WHEN ${wins} THEN ? ELSE ${col} END`);
      sets.push(`${r.hlcColumn} = CASE WHEN ${wins} THEN ? ELSE ${r.hlcColumn} END`);
    });
    return `UPDATE ${table} SET ${sets.join(', ')} WHERE ${whereText(keyColumns)}`;
  });
  return { sql: text, params };
};

/** One UPDATE assigning each register whose stored HLC is older than `hlc`. */
export const lwwUpdate = (
  table: string,
  key: Key,
  registers: readonly LwwRegister[],
  hlc: string,
): Statement => hlcRegisterUpdate('<', table, key, registers, hlc);

/** The mirror of LWW for facts of a thing's first definition (who created a user-named thing
 * such as a privilege, and when): among concurrent definitions the earliest HLC wins. */
export const earliestUpdate = (
  table: string,
  key: Key,
  registers: readonly LwwRegister[],
  hlc: string,
): Statement => hlcRegisterUpdate('>', table, key, registers, hlc);

// ---------------------------------------------------------------------------------------------
// Restrictive: among concurrent writes the most restrictive value wins (disabled over enabled;
// revoke over inherit over grant); between equals, the highest HLC. Needs the whole
// non-dominated set, kept in `register_frontier` (hashed in the digest like any other state).

export const REGISTER_DDL = [
  `CREATE TABLE register_frontier (
    register TEXT NOT NULL, key TEXT NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL,
    hlc TEXT NOT NULL, value TEXT NOT NULL, rank INTEGER NOT NULL,
    PRIMARY KEY (register, key, origin, seq)) WITHOUT ROWID`,
  // Creations of one client-chosen id at several sites (see `createOrMerge`).
  `CREATE TABLE duplicate_creations (
    entity TEXT NOT NULL, id TEXT NOT NULL, hlc TEXT NOT NULL, origin TEXT NOT NULL,
    PRIMARY KEY (entity, id, hlc)) WITHOUT ROWID`,
];

/** Conflicts the generic registers settled, for the conflicts view: concurrent writes with
 * different values in a restrictive register (a grant and a revoke made at two sites at once),
 * one row per register key; and ids created at several sites, one row per id. */
export const REGISTER_CONFLICTS = `SELECT 'concurrent-writes', f.register, f.key,
    (SELECT w.value FROM register_frontier w WHERE w.register = f.register AND w.key = f.key
      ORDER BY w.rank DESC, w.hlc DESC LIMIT 1),
    group_concat(f.value, ','), MAX(f.hlc)
  FROM register_frontier f GROUP BY f.register, f.key HAVING COUNT(DISTINCT f.value) > 1
  UNION ALL
  SELECT 'duplicate-creation', c.entity || ':' || c.id, c.id,
    (SELECT w.origin FROM duplicate_creations w WHERE w.entity = c.entity AND w.id = c.id
      ORDER BY w.hlc LIMIT 1),
    group_concat(c.origin, ','), MAX(c.hlc)
  FROM duplicate_creations c GROUP BY c.entity, c.id`;

/** Records a write into a restrictive register, dropping the writes it dominates: those whose
 * (origin, seq) its deps cover. */
export const restrictiveWrite = (
  register: string,
  key: string,
  event: Pick<Envelope, 'origin' | 'seq' | 'hlc' | 'deps'>,
  value: string,
  rank: number,
): Statement[] => {
  const covered = Object.entries(event.deps).filter(([, seq]) => seq > 0n);
  const dominated = textOf(
    `restrictive|${covered.length}`,
    () => `DELETE FROM register_frontier WHERE register = ? AND key = ?
       AND seq <= CASE origin ${covered.map(() => 'WHEN ? THEN ?').join(' ')} ELSE 0 END`,
  );
  return [
    ...(covered.length > 0 ? [sql(dominated, register, key, ...covered.flat())] : []),
    sql(
      'INSERT INTO register_frontier (register, key, origin, seq, hlc, value, rank) VALUES (?, ?, ?, ?, ?, ?, ?)',
      register,
      key,
      event.origin,
      event.seq,
      event.hlc,
      value,
      rank,
    ),
  ];
};

/** SQL expression for a restrictive register's visible value; `keyExpr` is SQL (a column or `?`). */
export const restrictiveValue = (register: string, keyExpr: string, fallback: string): string =>
  `COALESCE((SELECT value FROM register_frontier WHERE register = '${register}' AND key = ${keyExpr}
     ORDER BY rank DESC, hlc DESC LIMIT 1), '${fallback}')`;

// ---------------------------------------------------------------------------------------------
// Creation of a thing whose id a client may choose (principal, directory, role). A node refuses an
// id it knows, but two sites may create one id at once, and the row must not depend on which
// creation arrived first. So a creation is a set of register writes: an INSERT that, when the id
// exists, merges each LWW register (highest HLC) and each creation fact (earliest HLC) exactly as
// later writes would. A creation that finds its id taken records both creations as a conflict;
// the first arrival is recorded when the second arrives, so every node lists the same set.

export type Creation = {
  readonly table: string;
  readonly key: Key;
  readonly lww: readonly LwwRegister[];
  /** Facts of the first definition (kind, directory, who and when): earliest HLC wins. */
  readonly earliest: readonly LwwRegister[];
  /** Columns set only when the row is new: derived state that the handler recomputes. */
  readonly initial?: Readonly<Record<string, SqlValue>>;
};

export const createOrMerge = (c: Creation, hlc: string): Statement => {
  const keyColumns = Object.keys(c.key);
  const lww = c.lww.map((r) => Object.keys(r.values));
  const earliest = c.earliest.map((r) => Object.keys(r.values));
  const initial = Object.keys(c.initial ?? {});
  const params: SqlValue[] = keyColumns.map((col) => c.key[col] as SqlValue);
  const addValues = (registers: readonly LwwRegister[], columns: readonly string[][]) =>
    registers.forEach((r, i) => {
      for (const col of columns[i]!) params.push(r.values[col] as SqlValue);
      params.push(hlc);
    });
  addValues(c.lww, lww);
  addValues(c.earliest, earliest);
  for (const col of initial) params.push(c.initial![col] as SqlValue);
  const shapeOf = (registers: readonly LwwRegister[], columns: readonly string[][]) =>
    registers.map((r, i) => `${r.hlcColumn}:${columns[i]}`).join('|');
  const shape = `merge ${c.table}|${keyColumns}|${shapeOf(c.lww, lww)}||${shapeOf(c.earliest, earliest)}||${initial}`;
  const text = textOf(shape, () => {
    const cols = [...keyColumns];
    const sets: string[] = [];
    const merge = (
      registers: readonly LwwRegister[],
      columns: readonly string[][],
      newer: '<' | '>',
    ) =>
      registers.forEach((r, i) => {
        const wins = `(${r.hlcColumn} IS NULL OR excluded.${r.hlcColumn} ${newer} ${r.hlcColumn})`;
        for (const col of [...columns[i]!, r.hlcColumn]) {
          cols.push(col);
          sets.push(`${col} = CASE WHEN ${wins} THEN excluded.${col} ELSE ${col} END`);
        }
      });
    merge(c.lww, lww, '>');
    merge(c.earliest, earliest, '<');
    cols.push(...initial);
    return `INSERT INTO ${c.table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
      ON CONFLICT (${keyColumns.join(', ')}) DO UPDATE SET ${sets.join(', ')}`;
  });
  return { sql: text, params };
};

/** Records that `entity` `id`, created earlier at `existing`, is created again by `event`. */
export const duplicateCreation = (
  entity: string,
  id: string,
  existing: { readonly hlc: SqlValue; readonly origin: SqlValue },
  event: Pick<Envelope, 'hlc' | 'origin'>,
): Statement =>
  sql(
    'INSERT OR IGNORE INTO duplicate_creations (entity, id, hlc, origin) VALUES (?, ?, ?, ?), (?, ?, ?, ?)',
    entity,
    id,
    existing.hlc,
    existing.origin,
    entity,
    id,
    event.hlc,
    event.origin,
  );

// ---------------------------------------------------------------------------------------------
// Terminal: once present, final. Concurrent terminal writes keep the earliest HLC, so the
// recorded moment is the same on every node.

export const terminalSet = (
  table: string,
  key: Key,
  flagColumn: string,
  hlcColumn: string,
  hlc: string,
): Statement => {
  const keyColumns = Object.keys(key);
  const text = textOf(
    `terminal ${table}|${keyColumns}|${flagColumn}|${hlcColumn}`,
    () => `UPDATE ${table} SET ${flagColumn} = 1,
      ${hlcColumn} = CASE WHEN ${hlcColumn} IS NULL OR ? < ${hlcColumn} THEN ? ELSE ${hlcColumn} END
      WHERE ${whereText(keyColumns)}`,
  );
  return { sql: text, params: [hlc, hlc, ...keyColumns.map((c) => key[c] as SqlValue)] };
};

// ---------------------------------------------------------------------------------------------
// Unique claim: among live claims of one key, the earliest by (HLC, event id) holds it; the
// others are `conflict` (cannot be used, listed for an administrator); claims that are no
// longer live are `released`. A pure function of the set of claims, recomputed per key.

export type ClaimTable = {
  readonly table: string;
  readonly idColumn: string;
  /** Columns that scope the key (e.g. directory) plus the key column itself. */
  readonly keyColumns: readonly string[];
  /** SQL condition that is true for live claims (e.g. `removed = 0 AND key IS NOT NULL`). */
  readonly live: string;
  readonly hlcColumn: string;
  readonly eventColumn: string;
  readonly statusColumn: string;
};

export const CLAIM_HELD = 'held';
export const CLAIM_CONFLICT = 'conflict';
export const CLAIM_RELEASED = 'released';

/** Recomputes the holder of one key. `keyValues` are in the order of `keyColumns`. */
export const claimRecompute = (t: ClaimTable, keyValues: readonly SqlValue[]): Statement => {
  // `col = ?` (not `col IS ?`): only equality lets SQLite use the key's index, partial indexes
  // on `col IS NOT NULL` included; `IS ?` made every recompute scan the whole table.
  const nulls = keyValues.map((v) => (v === null ? 'n' : 'v')).join('');
  const shape = `claim ${t.table}|${t.idColumn}|${t.keyColumns}|${t.live}|${t.hlcColumn}|${t.eventColumn}|${t.statusColumn}|${nulls}`;
  const text = textOf(shape, () => {
    const scope = t.keyColumns
      .map((c, i) => (keyValues[i] === null ? `${c} IS NULL` : `${c} = ?`))
      .join(' AND ');
    return `UPDATE ${t.table} SET ${t.statusColumn} = CASE
        WHEN NOT (${t.live}) THEN '${CLAIM_RELEASED}'
        WHEN ${t.idColumn} = (SELECT ${t.idColumn} FROM ${t.table} WHERE ${scope} AND (${t.live})
          ORDER BY ${t.hlcColumn}, ${t.eventColumn} LIMIT 1) THEN '${CLAIM_HELD}'
        ELSE '${CLAIM_CONFLICT}' END
      WHERE ${scope}`;
  });
  const bound = keyValues.filter((v) => v !== null);
  return { sql: text, params: [...bound, ...bound] };
};

/** A claimant that left every key (e.g. its email was cleared) is in no group a recompute
 * touches: mark it released itself. */
export const claimReleaseSelf = (t: ClaimTable, id: SqlValue): Statement => ({
  sql: textOf(
    `release ${t.table}|${t.idColumn}|${t.live}|${t.statusColumn}`,
    () =>
      `UPDATE ${t.table} SET ${t.statusColumn} = '${CLAIM_RELEASED}' WHERE ${t.idColumn} = ? AND NOT (${t.live})`,
  ),
  params: [id],
});

// ---------------------------------------------------------------------------------------------
// Graph edge (role parent): each child has at most one parent (an LWW register), so the graph is
// functional and every cycle is a simple cycle. An edge that closes a cycle is ignored, choosing
// the cycle's edge with the highest HLC; the result depends only on the set of edges.

export type Edge = { readonly child: string; readonly parent: string | null; readonly hlc: string };

export type ResolvedGraph = {
  readonly parentOf: ReadonlyMap<string, string | null>;
  /** Children whose edge was neutralised to break a cycle, sorted. */
  readonly neutralised: readonly string[];
};

export const resolveParentGraph = (edges: readonly Edge[]): ResolvedGraph => {
  const parentOf = new Map<string, string | null>();
  for (const e of edges) parentOf.set(e.child, e.parent);
  const hlcOf = new Map(edges.map((e) => [e.child, e.hlc]));
  const neutralised: string[] = [];
  const done = new Set<string>();
  for (const start of [...parentOf.keys()].sort()) {
    const path: string[] = [];
    const onPath = new Set<string>();
    let node: string | null | undefined = start;
    while (node != null && !done.has(node) && !onPath.has(node)) {
      path.push(node);
      onPath.add(node);
      node = parentOf.get(node);
    }
    if (node != null && onPath.has(node)) {
      // The cycle is the suffix of the path from `node`; cut its newest edge.
      const cycle = path.slice(path.indexOf(node));
      let newest = cycle[0]!;
      for (const c of cycle) if (hlcOf.get(c)! > hlcOf.get(newest)!) newest = c;
      parentOf.set(newest, null);
      neutralised.push(newest);
    }
    for (const p of path) done.add(p);
  }
  return { parentOf, neutralised: neutralised.sort() };
};

// ---------------------------------------------------------------------------------------------
// Max: a number that only moves forward (the highest OTP time step or HOTP counter used). Taking
// the maximum is commutative, associative and idempotent, so any delivery order of any set of
// writes, duplicates included, leaves the same value: no HLC needed.

export const maxUpdate = (table: string, key: Key, column: string, value: number): Statement => {
  const keyColumns = Object.keys(key);
  const text = textOf(
    `max ${table}|${keyColumns}|${column}`,
    () => `UPDATE ${table} SET ${column} = CASE WHEN ${column} IS NULL OR ${column} < ? THEN ? ELSE ${column} END
      WHERE ${whereText(keyColumns)}`,
  );
  return { sql: text, params: [value, value, ...keyColumns.map((c) => key[c] as SqlValue)] };
};
