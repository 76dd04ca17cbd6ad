// Audit trail queries: filters, a stable order and cursor paging. This module checks a query and
// makes its cursors; the SQL that walks the trail is the audit read model's (projections/audit.ts).
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

import { type AuditEntry, type AuditOrder, auditEntries } from '../../projections/audit.ts';
import type { Family } from '../../projections/audit-describe.ts';
import { isHlc } from '../clock/hlc.ts';
import { AppError } from '../errors.ts';
import type { Reader } from '../readmodel/projection.ts';

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

export type AuditQuery = AuditFilter & {
  /** `arrival`: this node's log order (arrival.ts); the others: HLC order. */
  readonly order?: AuditOrder | 'arrival';
  readonly cursor?: string;
  readonly limit: number;
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
  const rows = auditEntries(read, {
    subject: q.subject,
    actor: q.actor,
    types: q.types,
    family: q.family,
    fromHlc: q.from === undefined ? undefined : hlcFloor(q.from),
    toHlc: q.to === undefined ? undefined : hlcFloor(q.to),
    origin: q.origin,
    ip: q.ip,
    order,
    after,
    limit: q.limit + 1,
  });
  const more = rows.length > q.limit;
  const items = rows.slice(0, q.limit);
  const last = items.at(-1);
  return {
    items,
    next: more && last ? encodeCursor({ order, hlc: last.hlc, eventId: last.eventId }) : null,
  };
};
