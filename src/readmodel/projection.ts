// What a projection is: its tables and a handler per event type that returns SQL statements.
// Handlers may read the read model (inside the same transaction) to decide which statements to
// emit, but do no other I/O and never read the clock: the same event on the same state gives
// the same statements on every node.
import type { DomainEventOf, EventType } from '../events/catalogue.ts';
import type { Envelope } from '../events/envelope.ts';

export type SqlValue = string | number | bigint | null;
export type SqlRow = Readonly<Record<string, SqlValue>>;

export type Statement = { readonly sql: string; readonly params: readonly SqlValue[] };

export const sql = (text: string, ...params: SqlValue[]): Statement => ({ sql: text, params });

export type Reader = {
  get(sql: string, ...params: SqlValue[]): SqlRow | undefined;
  all(sql: string, ...params: SqlValue[]): SqlRow[];
};

/** A step computed from the state after the handler's earlier steps ran (e.g. a graph
 * recomputation that must see the edge the same event just wrote). */
export type Derive = { readonly derive: (read: Reader) => readonly Step[] };
export type Step = Statement | Derive;

export type Handler<T extends EventType> = (
  event: Envelope<DomainEventOf<T>>,
  read: Reader,
) => readonly Step[];

export type Handlers = { readonly [T in EventType]?: Handler<T> };

export type Projection = {
  readonly name: string;
  /** CREATE TABLE / INDEX statements. Tables whose name starts with `_` are node-local
   * bookkeeping and stay out of the digest; every other table is hashed. */
  readonly ddl: readonly string[];
  /** CREATE INDEX statements that serve queries only: no handler reads through them and they
   * enforce nothing. A rebuild creates them after its last event, one sort each instead of an
   * insert into each of them per row. */
  readonly queryIndexes?: readonly string[];
  /** Rows every node starts with (materialized well-known entities such as `anonymous`). */
  readonly seed?: readonly Statement[];
  /** SELECTs contributing rows (kind, scope, subject, winner, detail, hlc) to the `conflicts` view. */
  readonly conflicts?: readonly string[];
  readonly handlers: Handlers;
  /**
   * Inert events (DESIGN.md section 5, docs/replication-trust.md): why `event` has no effect,
   * or undefined. A rule here must be a property of the event and the set of events a node
   * holds, never of the order they came in: what it reads (revocations, removals) is in this
   * projection's tables, or in its `_foresight` tables during a replay, which hold every such
   * event of the log before the first is applied.
   */
  readonly inert?: (event: Envelope, read: Reader) => string | undefined;
  /** Whether this projection's handlers run for inert events too (the audit trail records that
   * they happened; authority races are listed whichever side is inert; a removal counts even
   * from a removed node), all of them or those of the types listed. */
  readonly seesInert?: boolean | readonly EventType[];
  /** Statements for an inert event (the listing of inert events). */
  readonly onInert?: (event: Envelope, reason: string) => readonly Step[];
  /** Statements a replay runs for every event of the log before it applies the first, into
   * `_`-prefixed tables the `inert` rule reads (so the rule knows what comes later in the log). */
  readonly foresight?: (event: Envelope) => readonly Step[];
  /** Whether applying `event` made events applied before it inert: the read model must then be
   * replayed from the log (src/node/replay.ts) to undo their effects. */
  readonly retroactive?: (
    event: Envelope,
    read: Reader,
    applied: Readonly<Record<string, bigint>>,
  ) => boolean;
};
