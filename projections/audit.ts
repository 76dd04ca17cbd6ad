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

import { hlcWallMs } from '../src/clock/hlc.ts';
import { type EventType, eventTypes } from '../src/events/catalogue.ts';
import type { Envelope } from '../src/events/envelope.ts';
import {
  type Handler,
  type Handlers,
  type Projection,
  type Reader,
  type SqlRow,
  type SqlValue,
  sql,
} from '../src/readmodel/projection.ts';
import { str, strOrNull } from '../src/readmodel/rows.ts';
import { allowedByOf, type Family, familyOf, subjectsOf, summaryOf } from './audit-describe.ts';

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
  // The trail records every event a node applied, inert ones included.
  seesInert: true,
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

// Queries on the audit tables.

export type AuditEntry = {
  /** UTC time of the event (its HLC's physical part), ISO 8601. */
  readonly at: string;
  readonly hlc: string;
  readonly origin: string;
  readonly seq: string;
  readonly eventId: string;
  readonly actor: string;
  readonly via: string | null;
  readonly type: string;
  readonly family: string;
  readonly subjects: string[];
  readonly summary: string;
  readonly ip: string | null;
  readonly correlationId: string | null;
  /** The grants an administrative event was allowed by, when it records them. */
  readonly allowedBy: string | null;
};

const auditEntry = (r: SqlRow): AuditEntry => {
  const hlc = str(r, 'hlc');
  const subjects = str(r, 'subjects');
  return {
    at: new Date(hlcWallMs(hlc)).toISOString(),
    hlc,
    origin: str(r, 'origin'),
    seq: str(r, 'seq'),
    eventId: str(r, 'event_id'),
    actor: str(r, 'actor'),
    via: strOrNull(r, 'via'),
    type: str(r, 'type'),
    family: str(r, 'family'),
    subjects: subjects === '' ? [] : subjects.split(' '),
    summary: str(r, 'summary'),
    ip: strOrNull(r, 'ip'),
    correlationId: strOrNull(r, 'correlation_id'),
    allowedBy: strOrNull(r, 'allowed_by'),
  };
};

/** The entry of one event, by its key; undefined while the event is not applied. */
export const auditEntryOf = (
  read: Reader,
  hlc: string,
  eventId: string,
): AuditEntry | undefined => {
  const row = read.get('SELECT * FROM audit WHERE hlc = ? AND event_id = ?', hlc, eventId);
  return row && auditEntry(row);
};

/** Rows of the trail and of its subject index (the read model's size, for benchmarks). */
export const auditRowCounts = (read: Reader): { events: number; subjectRows: number } => ({
  events: Number(read.get('SELECT count(*) AS n FROM audit')?.n),
  subjectRows: Number(read.get('SELECT count(*) AS n FROM audit_subjects')?.n),
});

export type AuditOrder = 'asc' | 'desc';

/** What a walk of the trail in (hlc, event id) order selects; the filters combine with AND. */
export type AuditSelection = {
  readonly subject?: string;
  readonly actor?: string;
  /** Any of these event types. */
  readonly types?: readonly string[];
  readonly family?: Family;
  /** HLC bounds: `fromHlc` inclusive, `toHlc` exclusive. */
  readonly fromHlc?: string;
  readonly toHlc?: string;
  readonly origin?: string;
  readonly ip?: string;
  readonly order: AuditOrder;
  /** Start after this key (in `order`). */
  readonly after?: { readonly hlc: string; readonly eventId: string };
  readonly limit: number;
};

/** Up to `limit` entries matching the selection, in (hlc, event id) order from `after`. */
export const auditEntries = (read: Reader, q: AuditSelection): AuditEntry[] => {
  const { order, after } = q;
  // With a subject, the walk runs on audit_subjects' key (subject, hlc, event_id); otherwise on
  // the audit table's, or on the one secondary index the planner picks (each ends with the key).
  const k = q.subject !== undefined ? 's' : 'a';
  const where: string[] = [];
  const params: SqlValue[] = [];
  const add = (clause: string, ...values: SqlValue[]) => {
    where.push(clause);
    params.push(...values);
  };
  // One index drives the walk: the most selective filter present (an address or a principal
  // names few events; a type, origin or family many). The others are written `+a.col` so SQLite
  // cannot pick their index and scan every event of a common type looking for one actor.
  const present: Record<string, boolean> = {
    subject: q.subject !== undefined,
    ip: q.ip !== undefined,
    actor: q.actor !== undefined,
    type: (q.types?.length ?? 0) > 0,
    origin: q.origin !== undefined,
    family: q.family !== undefined,
  };
  const driver = Object.keys(present).find((column) => present[column]);
  const on = (column: string) => (column === driver ? `a.${column}` : `+a.${column}`);
  if (q.subject !== undefined) add('s.subject = ?', q.subject);
  if (q.ip !== undefined) add(`${on('ip')} = ?`, q.ip);
  if (q.actor !== undefined) add(`${on('actor')} = ?`, q.actor);
  if (q.origin !== undefined) add(`${on('origin')} = ?`, q.origin);
  if (q.family !== undefined) add(`${on('family')} = ?`, q.family);
  if (q.fromHlc !== undefined) add(`${k}.hlc >= ?`, q.fromHlc);
  if (q.toHlc !== undefined) add(`${k}.hlc < ?`, q.toHlc);
  if (after)
    add(
      `(${k}.hlc, ${k}.event_id) ${order === 'asc' ? '>' : '<'} (?, ?)`,
      after.hlc,
      after.eventId,
    );
  const from =
    k === 's'
      ? 'audit_subjects s JOIN audit a ON a.hlc = s.hlc AND a.event_id = s.event_id'
      : 'audit a';
  const dir = order === 'asc' ? 'ASC' : 'DESC';
  const page = (extra: string[]) => {
    const all = [...where, ...extra];
    return `SELECT a.* FROM ${from}${all.length > 0 ? ` WHERE ${all.join(' AND ')}` : ''}
     ORDER BY ${k}.hlc ${dir}, ${k}.event_id ${dir} LIMIT ?`;
  };
  const types = [...new Set(q.types ?? [])];
  const typeTerm = `${on('type')} = ?`;
  if (types.length <= 1)
    return read
      .all(page(types.length === 1 ? [typeTerm] : []), ...params, ...types, q.limit)
      .map(auditEntry);
  // Several types: one page per type, each an index range in order, merged. `type IN (…)`
  // would make SQLite either scan in key order (slow for rare types) or sort every match.
  const parts = types.map(() => `SELECT * FROM (${page([typeTerm])})`);
  return read
    .all(
      `SELECT * FROM (${parts.join(' UNION ALL ')}) ORDER BY hlc ${dir}, event_id ${dir} LIMIT ?`,
      ...types.flatMap((t) => [...params, t, q.limit]),
      q.limit,
    )
    .map(auditEntry);
};
