// GET /v1/audit: the audit trail, filtered, a page at a time. Only principals holding
// `authlog.audit.read` (or the operator) may read it, and every read is itself recorded as an
// `AuditRead` event (its filters, not its rows) before the rows are read.
//
// This is the one GET that writes, and on purpose: the write is the record of the read, not a
// change of state a caller could want to provoke. A cross-site navigation (which CSRF checks let
// through for safe methods) could at worst add a record of a read whose answer it cannot see.
import type { Static } from '@sinclair/typebox';
import type { Family } from '../../../projections/audit-describe.ts';
import { checkArrivalQuery, followAudit, isArrivalCursor } from '../../accounting/arrival.ts';
import { recordAuditRead } from '../../accounting/commands.ts';
import { type AuditQuery, checkAuditQuery, queryAudit } from '../../accounting/queries.ts';
import { AppError } from '../../errors.ts';
import { isEventType } from '../../events/catalogue.ts';
import { AuditPageSchema, AuditQuerySchema } from '../audit-schemas.ts';
import { clientIp } from '../proxy.ts';
import { errorResponses } from '../schemas.ts';
import type { App } from '../types.ts';

// Full ISO 8601 date, or date and time with an explicit zone (a time without zone is ambiguous).
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Each type is one index range merged into the page: keep the merge small. */
const MAX_TYPES = 20;

export const parseTime = (field: string, value: string): number => {
  const ms = ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0)
    throw new AppError(
      'VALIDATION_FAILED',
      `${field}: an ISO 8601 date or date-time with a zone (2026-01-31 or 2026-01-31T12:00:00Z)`,
      { field },
    );
  return ms;
};

/** The HTTP query as a store query; also what the CLI sends, so both refuse the same input. */
export const toAuditQuery = (q: Static<typeof AuditQuerySchema>): AuditQuery => {
  const types = q.type?.split(',');
  if (types !== undefined && types.length > MAX_TYPES)
    throw new AppError('VALIDATION_FAILED', `type: at most ${MAX_TYPES} types`, { field: 'type' });
  const unknown = types?.find((t) => !isEventType(t));
  if (unknown !== undefined)
    throw new AppError('VALIDATION_FAILED', `type: no event type ${unknown}`, { field: 'type' });
  return {
    ...(q.subject !== undefined ? { subject: q.subject } : {}),
    ...(q.actor !== undefined ? { actor: q.actor } : {}),
    ...(types !== undefined ? { types } : {}),
    ...(q.family !== undefined ? { family: q.family as Family } : {}),
    ...(q.from !== undefined ? { from: parseTime('from', q.from) } : {}),
    ...(q.to !== undefined ? { to: parseTime('to', q.to) } : {}),
    ...(q.origin !== undefined ? { origin: q.origin } : {}),
    ...(q.ip !== undefined ? { ip: q.ip } : {}),
    ...(q.order !== undefined ? { order: q.order } : {}),
    ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    limit: q.limit,
  };
};

export const auditRoutes = async (app: App) => {
  app.get(
    '/audit',
    {
      schema: {
        summary:
          'The audit trail: one row per event, filtered, in (time, event id) order or in the order this node received events, a page at a time (needs authlog.audit.read; the read is recorded)',
        tags: ['accounting'],
        querystring: AuditQuerySchema,
        response: {
          200: AuditPageSchema,
          ...errorResponses,
          403: {
            ...errorResponses[401],
            description: 'FORBIDDEN: the caller lacks authlog.audit.read',
          },
        },
      },
    },
    async (request) => {
      // Bad input is refused before anything is recorded.
      const query = toAuditQuery(request.query);
      const arrival =
        query.order === 'arrival' || (query.order === undefined && isArrivalCursor(query.cursor));
      if (arrival) checkArrivalQuery(query, app.node.id);
      else checkAuditQuery(query);
      const filters: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.query))
        if (v !== undefined) filters[k] = String(v);
      await app.node.execute(recordAuditRead(filters), {
        actor: request.auth?.actor ?? 'anonymous',
        ...(request.auth ? { via: request.auth.via } : {}),
        correlationId: request.id,
        ip: clientIp(request),
        ...(request.headers['user-agent']
          ? { userAgent: request.headers['user-agent'].slice(0, 512) }
          : {}),
      });
      return arrival ? followAudit(app.node, query) : queryAudit(app.node.read, query);
    },
  );
};
