// Schemas of GET /v1/audit, shared by the route (validation, OpenAPI) and the CLI (which checks
// every answer it reads).
import { Type } from '@sinclair/typebox';
import { FAMILIES } from '../../projections/audit-describe.ts';
import { MAX_AUDIT_LIMIT } from '../accounting/queries.ts';
import { Nullable, Strict } from './schemas.ts';

export const FamilySchema = Type.Union(FAMILIES.map((f) => Type.Literal(f)));

export const AuditQuerySchema = Type.Object(
  {
    subject: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'an id the event touches' }),
    ),
    actor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'principal id, or `system`' }),
    ),
    type: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1000,
        pattern: '^[A-Za-z]+(,[A-Za-z]+)*$',
        description: 'event type, or several separated by commas',
      }),
    ),
    family: Type.Optional(FamilySchema),
    from: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601 time, inclusive' }),
    ),
    to: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'ISO 8601 time, exclusive' }),
    ),
    origin: Type.Optional(
      Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9-]*$' }),
    ),
    ip: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    order: Type.Optional(
      Type.Union([Type.Literal('asc'), Type.Literal('desc'), Type.Literal('arrival')], {
        description:
          'asc (default) or desc: by time (HLC), the same on every node; arrival: the order this node received events, which a walk follows without missing late-replicated ones',
      }),
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 400, pattern: '^[A-Za-z0-9_-]+$' }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: MAX_AUDIT_LIMIT, default: 100 }),
  },
  Strict,
);

export const AuditEntrySchema = Type.Object({
  at: Type.String({ description: 'UTC time of the event (from its HLC), ISO 8601' }),
  hlc: Type.String(),
  origin: Type.String(),
  seq: Type.String({ description: 'decimal: position in the origin log' }),
  eventId: Type.String(),
  actor: Type.String(),
  via: Nullable(Type.String()),
  type: Type.String(),
  family: Type.String(),
  subjects: Type.Array(Type.String()),
  summary: Type.String(),
  ip: Nullable(Type.String()),
  correlationId: Nullable(Type.String()),
  allowedBy: Nullable(
    Type.String({
      description:
        'the grants an administrative event was allowed by at its origin: "<grant> of <role>[ via <actor role>]", separated by "; "',
    }),
  ),
});

export const AuditPageSchema = Type.Object({
  items: Type.Array(AuditEntrySchema),
  next: Nullable(
    Type.String({
      description:
        'cursor of the next page; null: no more rows now (in arrival order always a cursor, to ask again later)',
    }),
  ),
  caughtUp: Type.Optional(
    Type.Boolean({ description: 'arrival order: the page reached what this node holds now' }),
  ),
});
