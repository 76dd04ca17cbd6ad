// Inert events (DESIGN.md section 5, docs/replication-trust.md): events a node holds and applies
// in the causal sense — its vector moves past them, later events may depend on them — but that
// have no effect, by a rule every node applies alike: an administrative event quarantined by an
// authority race (authority.ts), an event of a removed node from its removal seq on (cluster.ts).
// The projector asks those rules before it runs any handler (src/readmodel/projector.ts); this
// projection lists what they answered, one row per inert event, in the digest and the conflicts
// view like every other settled conflict.

import type { Projection, Reader } from '../src/readmodel/projection.ts';
import { sql } from '../src/readmodel/projection.ts';
import { str } from '../src/readmodel/rows.ts';

export type InertEvent = {
  readonly eventId: string;
  readonly origin: string;
  readonly seq: string;
  readonly type: string;
  readonly actor: string;
  readonly reason: string;
};

export const inert: Projection = {
  name: 'inert',
  ddl: [
    `CREATE TABLE inert_events (
      event_id TEXT PRIMARY KEY, origin TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,
      actor TEXT NOT NULL, reason TEXT NOT NULL, hlc TEXT NOT NULL) WITHOUT ROWID`,
  ],
  conflicts: [
    `SELECT 'inert', 'event:' || origin || ':' || seq, event_id, NULL, type || ' has no effect: ' || reason, hlc
       FROM inert_events`,
  ],
  handlers: {},
  onInert: (e, reason) => [
    sql(
      'INSERT OR IGNORE INTO inert_events (event_id, origin, seq, type, actor, reason, hlc) VALUES (?, ?, ?, ?, ?, ?, ?)',
      e.id,
      e.origin,
      e.seq,
      e.type,
      e.actor,
      reason,
      e.hlc,
    ),
  ],
};

export const inertEvents = (read: Reader): InertEvent[] =>
  read
    .all(
      'SELECT event_id, origin, CAST(seq AS TEXT) AS seq, type, actor, reason FROM inert_events ORDER BY origin, seq',
    )
    .map((r) => ({
      eventId: str(r, 'event_id'),
      origin: str(r, 'origin'),
      seq: str(r, 'seq'),
      type: str(r, 'type'),
      actor: str(r, 'actor'),
      reason: str(r, 'reason'),
    }));
