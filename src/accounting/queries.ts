// Audit trail queries: filters, a stable order and cursor paging.
//
// Order: (hlc, event id), ascending or descending. It is a total order over events, the same on
// every node, and an event's place in it never changes, so a cursor (the last row's key) resumes
// exactly after the last row read: no row is repeated, and none of those that existed when the
// page was read is skipped. Events written while a client pages get this node's clock, which is
// ahead of every event it has applied, so they land after the cursor and show up in later pages
// (ascending). The one exception is inherent to multi-master: an event replicated from a peer
// later may carry an HLC older than the cursor; it belongs before the cursor and a walk that
// already passed that point does not see it (docs/accounting.md, "Paging"); a walk in this
// node's arrival order (arrival.ts) does.

import type { Family } from '../../projections/audit-describe.ts';
import { hlcWallMs, isHlc } from '../clock/hlc.ts';
import { AppError } from '../errors.ts';
import type { Reader, SqlValue } from '../readmodel/projection.ts';

export type AuditFilter = {
  readonly subject?: string;
  readonly actor?: string;
  /** Any of these event types. */
  readonly types?: readonly string[];
  readonly family?: Family;
  /** Inclusive, ms since the epoch (UTC). */
  readonly from?: number;
  /** Exclusive, ms since the epoch (UTC). */
  readonly to?: number;
  readonly origin?: string;
  readonly ip?: string;
};

export type AuditOrder = 'asc' | 'desc';

export type AuditQuery = AuditFilter & {
  /** `arrival`: this node's log order (arrival.ts); the others: HLC order. */
  readonly order?: AuditOrder | 'arrival';
  readonly cursor?: string;
  readonly limit: number;
};

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

export type AuditPage = {
  readonly items: AuditEntry[];
  /** Pass back as `cursor` for the next page; null when nothing more exists now. */
  readonly next: string | null;
};

export const MAX_AUDIT_LIMIT = 1000;
const MAX_WALL_MS = 0xffff_ffff_ffff;

type CursorKey = { readonly order: AuditOrder; readonly hlc: string; readonly eventId: string };

const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export const encodeCursor = (k: CursorKey): string =>
  Buffer.from(`${k.order === 'asc' ? 'a' : 'd'}|${k.hlc}|${k.eventId}`, 'utf8').toString(
    'base64url',
  );

export const decodeCursor = (cursor: string): CursorKey => {
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const [order, hlc, eventId] = parts;
  if (
    parts.length !== 3 ||
    (order !== 'a' && order !== 'd') ||
    hlc === undefined ||
    !isHlc(hlc) ||
    eventId === undefined ||
    !EVENT_ID.test(eventId)
  )
    throw new AppError('VALIDATION_FAILED', 'cursor: not a cursor this API returned', {
      field: 'cursor',
    });
  return { order: order === 'a' ? 'asc' : 'desc', hlc, eventId };
};

/** The smallest HLC string at or after `ms`: HLCs start with 12 hex digits of milliseconds. */
export const hlcFloor = (ms: number): string => {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_WALL_MS)
    throw new AppError('VALIDATION_FAILED', 'time out of range', { field: 'from' });
  return ms.toString(16).padStart(12, '0');
};

export const toEntry = (r: Readonly<Record<string, SqlValue>>): AuditEntry => {
  const hlc = String(r.hlc);
  const subjects = String(r.subjects);
  return {
    at: new Date(hlcWallMs(hlc)).toISOString(),
    hlc,
    origin: String(r.origin),
    seq: String(r.seq),
    eventId: String(r.event_id),
    actor: String(r.actor),
    via: r.via === null ? null : String(r.via),
    type: String(r.type),
    family: String(r.family),
    subjects: subjects === '' ? [] : subjects.split(' '),
    summary: String(r.summary),
    ip: r.ip === null ? null : String(r.ip),
    correlationId: r.correlation_id === null ? null : String(r.correlation_id),
    allowedBy: r.allowed_by === null ? null : String(r.allowed_by),
  };
};

/** Refuses a page size outside 1..MAX_AUDIT_LIMIT (either order). */
export const checkLimit = (q: AuditQuery): void => {
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_AUDIT_LIMIT)
    throw new AppError('VALIDATION_FAILED', `limit: from 1 to ${MAX_AUDIT_LIMIT}`, {
      field: 'limit',
    });
};

/** Checks a query without running it: limit, cursor, and that the cursor fits the order. */
export const checkAuditQuery = (
  q: AuditQuery,
): { readonly order: AuditOrder; readonly after: CursorKey | undefined } => {
  checkLimit(q);
  if (q.order === 'arrival') throw new TypeError('arrival order pages through followAudit');
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  const order = q.order ?? after?.order ?? 'asc';
  if (after && after.order !== order)
    throw new AppError('VALIDATION_FAILED', 'cursor: it was made for the other order', {
      field: 'cursor',
    });
  return { order, after };
};

/** One page of the audit trail. */
export const queryAudit = (read: Reader, q: AuditQuery): AuditPage => {
  const { order, after } = checkAuditQuery(q);
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
  if (q.from !== undefined) add(`${k}.hlc >= ?`, hlcFloor(q.from));
  if (q.to !== undefined) add(`${k}.hlc < ?`, hlcFloor(q.to));
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
  let rows: ReturnType<Reader['all']>;
  if (types.length <= 1)
    rows = read.all(page(types.length === 1 ? [typeTerm] : []), ...params, ...types, q.limit + 1);
  else {
    // Several types: one page per type, each an index range in order, merged. `type IN (…)`
    // would make SQLite either scan in key order (slow for rare types) or sort every match.
    const parts = types.map(() => `SELECT * FROM (${page([typeTerm])})`);
    rows = read.all(
      `SELECT * FROM (${parts.join(' UNION ALL ')}) ORDER BY hlc ${dir}, event_id ${dir} LIMIT ?`,
      ...types.flatMap((t) => [...params, t, q.limit + 1]),
      q.limit + 1,
    );
  }
  const more = rows.length > q.limit;
  const items = rows.slice(0, q.limit).map(toEntry);
  const last = items.at(-1);
  return {
    items,
    next: more && last ? encodeCursor({ order, hlc: last.hlc, eventId: last.eventId }) : null,
  };
};
