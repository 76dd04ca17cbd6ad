// The audit read model (DESIGN.md section 9): one row per event, whatever its type, and one row
// per (subject, event) for the ids it touches. Rows are written once, when the event is applied,
// from the event alone (envelope and payload, never other read-model state), so the table is the
// same on every node that holds the same events, whatever order they arrived in.
//
// Order and keys: (hlc, event_id) is the primary key and the paging order. Secondary indexes are
// exactly the filters of GET /v1/audit; in a WITHOUT ROWID table each of them ends with the
// primary key, so `WHERE actor = ? AND (hlc, event_id) > (?, ?) ORDER BY hlc, event_id` is one
// index range. Every index costs on every write and every rebuild: add one only with a query.
// The time of an event is its HLC's physical part (UTC ms), so no separate time column is kept.

import { type EventType, eventTypes } from '../src/events/catalogue.ts';
import type { Envelope } from '../src/events/envelope.ts';
import { type Handler, type Handlers, type Projection, sql } from '../src/readmodel/projection.ts';
import { allowedByOf, familyOf, subjectsOf, summaryOf } from './audit-describe.ts';

const INSERT_ROW = `INSERT INTO audit
  (hlc, event_id, origin, seq, actor, via, type, family, subjects, summary, ip, correlation_id, allowed_by)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const INSERT_SUBJECT = 'INSERT INTO audit_subjects (subject, hlc, event_id) VALUES (?, ?, ?)';

export const auditRow: Handler<EventType> = (e: Envelope) => {
  const data = e.data as Readonly<Record<string, unknown>>;
  const subjects = subjectsOf(data);
  return [
    sql(
      INSERT_ROW,
      e.hlc,
      e.id,
      e.origin,
      e.seq,
      e.actor,
      e.via ?? null,
      e.type,
      familyOf(e.type),
      subjects.join(' '),
      summaryOf(e.type, data),
      e.ip ?? null,
      e.correlationId ?? null,
      allowedByOf(e.authority),
    ),
    ...subjects.map((s) => sql(INSERT_SUBJECT, s, e.hlc, e.id)),
  ];
};

export const audit: Projection = {
  name: 'audit',
  ddl: [
    `CREATE TABLE audit (
      hlc TEXT NOT NULL, event_id TEXT NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL,
      actor TEXT NOT NULL, via TEXT, type TEXT NOT NULL, family TEXT NOT NULL,
      subjects TEXT NOT NULL, summary TEXT NOT NULL, ip TEXT, correlation_id TEXT, allowed_by TEXT,
      PRIMARY KEY (hlc, event_id)) WITHOUT ROWID`,
    // Also read by the authority projection's handlers (an actor's administrative events).
    'CREATE INDEX audit_actor ON audit (actor)',
    `CREATE TABLE audit_subjects (
      subject TEXT NOT NULL, hlc TEXT NOT NULL, event_id TEXT NOT NULL,
      PRIMARY KEY (subject, hlc, event_id)) WITHOUT ROWID`,
  ],
  queryIndexes: [
    'CREATE INDEX audit_type ON audit (type)',
    'CREATE INDEX audit_family ON audit (family)',
    'CREATE INDEX audit_origin ON audit (origin)',
    'CREATE INDEX audit_ip ON audit (ip)',
  ],
  // Every type of the catalogue, including types added after this module was written.
  handlers: Object.fromEntries(eventTypes.map((t) => [t, auditRow])) as Handlers,
};
