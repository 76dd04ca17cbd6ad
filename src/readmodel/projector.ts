// The projector applies events to the read model exactly once and only when causally ready:
// all of its deps applied and its seq the origin's next. Events that are not ready wait in an
// in-memory buffer (they are in the store, so a restart re-reads them from the checkpoint).
// The applied version vector and checkpoints are written in the same transaction as the rows.

import { coversAll, seqOf, type VersionVector } from '../clock/version-vector.ts';
import type { EventType } from '../events/catalogue.ts';
import type { Envelope } from '../events/envelope.ts';
import type { ReadModel } from './database.ts';
import type { Handler, Reader, SqlValue, Step } from './projection.ts';
import { createReader, statementCache } from './reader.ts';

export type Outcome = 'applied' | 'skipped' | 'buffered';

export type Projector = {
  /** The applied version vector (live view; copy it to keep it). */
  readonly applied: VersionVector;
  readonly buffered: number;
  /** Runs `fn` in one read-model transaction; rolls back rows and in-memory state if it throws. */
  transaction<T>(fn: () => T): T;
  /** For a transaction that spans an await (the writer's append): begin, then commit or rollback. */
  begin(): void;
  commit(): void;
  rollback(): void;
  /** Offers one event; inside a transaction. Applies it and whatever it unblocks, or buffers it. */
  offer(event: Envelope): Outcome;
  setCheckpoint(name: string, position: string): void;
  /** Set once an applied event made earlier ones inert (Projection.retroactive): the read model
   * needs a replay (src/node/replay.ts), which clears it. */
  readonly stale: boolean;
  /** Inside a transaction: forgets every applied event and the causal buffer (a replay, having
   * emptied the tables, applies the log again). */
  forgetApplied(): void;
  /** Inside a transaction: records what the inert rules must know of `event` before the first
   * event of a replay is applied (Projection.foresight). */
  foresee(event: Envelope): void;
  /** Inside a transaction: forgets what `foresee` recorded (at the end of a replay) and whether
   * the read model was stale (the replay knew every revocation and removal). */
  endForesight(): void;
  checkpoint(name: string): string | undefined;
  /** Read access for decide functions: sees the writer's uncommitted in-transaction state. */
  readonly read: Reader;
};

export type ProjectorOptions = {
  /** Called for every applied event (the node merges its clock here). */
  readonly onApplied?: (event: Envelope) => void;
  /** Called after each commit (the writer's batches and every apply commit here): caches of
   * committed state (authorization) invalidate, and waits for applied writes wake, here. */
  readonly onCommit?: () => void;
};

export const createProjector = (rm: ReadModel, options: ProjectorOptions = {}): Projector => {
  const db = rm.writer;
  const prepare = statementCache(db);
  const read = createReader(db, prepare);

  const handlers = new Map<string, Handler<EventType>[]>();
  const inertHandlers = new Map<string, Handler<EventType>[]>();
  for (const p of rm.projections) {
    for (const [type, h] of Object.entries(p.handlers)) {
      const sees = p.seesInert === true || (p.seesInert || []).includes(type as EventType);
      for (const map of sees ? [handlers, inertHandlers] : [handlers]) {
        const list = map.get(type) ?? [];
        list.push(h as Handler<EventType>);
        map.set(type, list);
      }
    }
  }
  const inertRules = rm.projections.flatMap((p) => (p.inert ? [p.inert] : []));
  const onInert = rm.projections.flatMap((p) => (p.onInert ? [p.onInert] : []));
  const retroactive = rm.projections.flatMap((p) => (p.retroactive ? [p.retroactive] : []));
  const foresight = rm.projections.flatMap((p) => (p.foresight ? [p.foresight] : []));
  const foresightTables = rm.projections.flatMap((p) =>
    p.ddl.flatMap((d) => /^CREATE TABLE (_\w*foresight\w*)/.exec(d)?.[1] ?? []),
  );
  let stale = false;

  const applied: Record<string, bigint> = {};
  for (const row of db.prepare('SELECT origin, seq FROM _applied').safeIntegers(true).all() as {
    origin: string;
    seq: bigint;
  }[]) {
    applied[row.origin] = row.seq;
  }
  let buffer = new Map<string, Envelope>();
  const dirty = new Set<string>();
  let snapshot:
    | { applied: Record<string, bigint>; buffer: Map<string, Envelope>; stale: boolean }
    | undefined;

  const saveApplied = prepare(
    'INSERT INTO _applied (origin, seq) VALUES (?, ?) ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq',
  );

  const ready = (e: Envelope) =>
    e.seq === seqOf(applied, e.origin) + 1n && coversAll(applied, e.deps);

  const run = (steps: readonly Step[]) => {
    for (const s of steps) {
      if ('derive' in s) run(s.derive(read));
      else prepare(s.sql).run(...(s.params as SqlValue[]));
    }
  };

  const inertReason = (e: Envelope) => {
    for (const rule of inertRules) {
      const why = rule(e, read);
      if (why !== undefined) return why;
    }
    return undefined;
  };

  const applyOne = (e: Envelope) => {
    const why = inertRules.length > 0 ? inertReason(e) : undefined;
    if (why === undefined) for (const h of handlers.get(e.type) ?? []) run(h(e as never, read));
    else {
      for (const h of inertHandlers.get(e.type) ?? []) run(h(e as never, read));
      for (const f of onInert) run(f(e, why));
    }
    if (!stale) for (const r of retroactive) if (r(e, read, applied)) stale = true;
    applied[e.origin] = e.seq;
    dirty.add(e.origin);
    options.onApplied?.(e);
  };

  const drain = () => {
    let progress = true;
    while (progress && buffer.size > 0) {
      progress = false;
      for (const [id, e] of buffer) {
        if (e.seq <= seqOf(applied, e.origin)) buffer.delete(id);
        else if (ready(e)) {
          buffer.delete(id);
          applyOne(e);
          progress = true;
        }
      }
    }
  };

  const begin = () => {
    if (snapshot) throw new Error('projector transaction already open');
    snapshot = { applied: { ...applied }, buffer: new Map(buffer), stale };
    db.exec('BEGIN');
  };
  const commit = () => {
    for (const origin of dirty) saveApplied.run(origin, applied[origin]!);
    dirty.clear();
    db.exec('COMMIT');
    snapshot = undefined;
    options.onCommit?.();
  };
  const rollback = () => {
    if (db.inTransaction) db.exec('ROLLBACK');
    if (snapshot) {
      for (const k of Object.keys(applied)) delete applied[k];
      Object.assign(applied, snapshot.applied);
      buffer = snapshot.buffer;
      stale = snapshot.stale;
    }
    dirty.clear();
    snapshot = undefined;
  };

  return {
    applied,
    get buffered() {
      return buffer.size;
    },
    transaction(fn) {
      begin();
      try {
        const result = fn();
        commit();
        return result;
      } catch (err) {
        rollback();
        throw err;
      }
    },
    begin,
    commit,
    rollback,
    offer(e) {
      if (e.seq <= seqOf(applied, e.origin)) return 'skipped';
      if (!ready(e)) {
        buffer.set(e.id, e);
        return 'buffered';
      }
      applyOne(e);
      if (buffer.size > 0) drain();
      return 'applied';
    },
    get stale() {
      return stale;
    },
    forgetApplied() {
      if (!snapshot) throw new Error('forgetApplied outside a transaction');
      for (const origin of Object.keys(applied)) delete applied[origin];
      buffer = new Map();
      dirty.clear();
      stale = false;
      prepare('DELETE FROM _applied').run();
    },
    foresee(e) {
      for (const f of foresight) run(f(e));
    },
    endForesight() {
      for (const t of foresightTables) prepare(`DELETE FROM ${t}`).run();
      stale = false;
    },
    setCheckpoint(name, position) {
      prepare(
        'INSERT INTO _checkpoint (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position',
      ).run(name, position);
    },
    checkpoint(name) {
      const row = prepare('SELECT position FROM _checkpoint WHERE name = ?').get(name) as
        | { position: string }
        | undefined;
      return row?.position;
    },
    read,
  };
};
