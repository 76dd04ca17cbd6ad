// The audit trail in the order this node received its events: `GET /v1/audit?order=arrival`.
//
// HLC order (queries.ts) is the same on every node, but an event accepted by a peer while it was
// cut off may reach this node later carrying an HLC older than a cursor that already passed its
// place. This node's log only ever grows at its end, so a walk in log order with a cursor sees
// every event exactly once, late arrivals included: what an export to a SIEM, or an auditor
// following the trail, needs. The price is that the order and the cursor are this node's own (a
// position in its log); a cursor names its node and is refused by another.
//
// A page reads at most ARRIVAL_SCAN events of the log, keeps those that match the filters, and
// stops before an event the read model has not applied yet (waiting for its causal past): the
// cursor never passes an event that is not in the trail. `next` is always a cursor, even at the
// end, so a follower keeps it and asks again later; `caughtUp` says the page reached the end.

import { type AuditEntry, auditEntryOf } from '../../projections/audit.ts';
import { hlcWallMs } from '../clock/hlc.ts';
import { AppError } from '../errors.ts';
import type { LogReader } from '../node/ports.ts';
import type { Reader } from '../readmodel/projection.ts';
import { type Position, positionFromString, positionToString } from '../store/port.ts';
import { type AuditQuery, checkLimit } from './queries.ts';

/** Events of the log one page reads at most, matching or not. */
export const ARRIVAL_SCAN = 2000;

const PREFIX = 'l|';

export type ArrivalPage = {
  readonly items: AuditEntry[];
  readonly next: string;
  readonly caughtUp: boolean;
};

type ArrivalCursor = { readonly node: string; readonly after: Position | undefined };

const encode = (c: ArrivalCursor): string =>
  Buffer.from(`${PREFIX}${c.node}|${c.after ? positionToString(c.after) : ''}`, 'utf8').toString(
    'base64url',
  );

const decode = (cursor: string): ArrivalCursor | undefined => {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(PREFIX)) return undefined;
  const [node, position, ...rest] = text.slice(PREFIX.length).split('|');
  if (node === undefined || position === undefined || rest.length > 0) return undefined;
  try {
    return { node, after: position === '' ? undefined : positionFromString(position) };
  } catch {
    return undefined;
  }
};

/** Whether a cursor was made for arrival order (so `order` may be left out with it). */
export const isArrivalCursor = (cursor: string | undefined): boolean =>
  cursor !== undefined && decode(cursor) !== undefined;

/** Checks an arrival-order query without running it; the cursor must be this node's. */
export const checkArrivalQuery = (q: AuditQuery, node: string): Position | undefined => {
  checkLimit(q);
  if (q.cursor === undefined) return undefined;
  const c = decode(q.cursor);
  if (c === undefined)
    throw new AppError('VALIDATION_FAILED', 'cursor: not an arrival-order cursor', {
      field: 'cursor',
    });
  if (c.node !== node)
    throw new AppError(
      'VALIDATION_FAILED',
      `cursor: made by node ${c.node}; arrival order is each node's own, ask that node`,
      { field: 'cursor' },
    );
  return c.after;
};

const matches = (e: AuditEntry, q: AuditQuery): boolean => {
  const wall = hlcWallMs(e.hlc);
  return (
    (q.subject === undefined || e.subjects.includes(q.subject)) &&
    (q.actor === undefined || e.actor === q.actor) &&
    (q.types === undefined || q.types.length === 0 || q.types.includes(e.type)) &&
    (q.family === undefined || e.family === q.family) &&
    (q.from === undefined || wall >= q.from) &&
    (q.to === undefined || wall < q.to) &&
    (q.origin === undefined || e.origin === q.origin) &&
    (q.ip === undefined || e.ip === q.ip)
  );
};

/** One page of the audit trail in this node's arrival order. */
export const followAudit = async (
  node: { readonly id: string; readonly eventLog: LogReader; readonly read: Reader },
  q: AuditQuery,
): Promise<ArrivalPage> => {
  let after = checkArrivalQuery(q, node.id);
  const events = await node.eventLog.readLog({ after, maxCount: ARRIVAL_SCAN });
  const items: AuditEntry[] = [];
  let consumed = 0;
  let waiting = false;
  for (const r of events) {
    const entry = auditEntryOf(node.read, String(r.metadata.hlc), r.id);
    if (entry === undefined) {
      waiting = true;
      break;
    }
    if (matches(entry, q)) {
      if (items.length === q.limit) break;
      items.push(entry);
    }
    after = r.position;
    consumed += 1;
  }
  // Nothing more can be read now: the end of the log, or an event still waiting to be applied.
  const caughtUp = waiting || (consumed === events.length && events.length < ARRIVAL_SCAN);
  return { items, next: encode({ node: node.id, after }), caughtUp };
};
