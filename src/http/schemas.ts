// Shared JSON schemas of the HTTP API (typebox). Unknown properties are refused everywhere.
import { type Static, type TSchema, Type } from '@sinclair/typebox';

export const Id = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$',
});
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const Strict = { additionalProperties: false } as const;

/** What a route without query parameters or body accepts: nothing. */
export const EmptyObject = Type.Object({}, Strict);

/** RFC 9457 problem details, registered once with `app.addSchema` and referenced by every route. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'urn:authlog:problem:<code>' }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'stable UPPER_SNAKE error code (src/errors.ts)' }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    requestId: Type.Optional(
      Type.String({ description: 'the id the node logged the request under' }),
    ),
    field: Type.Optional(Type.String()),
  },
  { $id: 'Problem', additionalProperties: true },
);

const problem = (description: string) => ({
  description,
  content: {
    'application/problem+json': {
      schema: Type.Unsafe<Static<typeof ProblemSchema>>({ $ref: 'Problem#' }),
    },
  },
});

/** Added to every route by the route conventions: any 4xx or 5xx answer is a problem. */
export const problemResponses = {
  '4xx': problem('The request was refused (see `code`)'),
  '5xx': problem('The node failed or is unavailable; nothing internal is said'),
};

/** The problems routes name explicitly, for the documentation. */
export const errorResponses = {
  400: problem('VALIDATION_FAILED: the request does not match its schema or the rules'),
  401: problem('UNAUTHENTICATED: no valid credential'),
  404: problem('The resource does not exist'),
  409: problem('The request conflicts with the current state'),
  503: problem('The node is starting, cannot write, or has not applied `authlog-after` yet'),
};

export const IdentitySchema = Type.Object({
  id: Type.String(),
  directoryId: Type.String(),
  principalId: Type.String(),
  name: Type.String(),
  status: Type.String(),
  removed: Type.Boolean(),
});

export const PrincipalSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  briefName: Type.String(),
  fullName: Type.String(),
  email: Nullable(Type.String()),
  emailStatus: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  active: Type.Boolean(),
  deleted: Type.Boolean(),
  createdAt: Type.String(),
  createdBy: Type.String(),
  origin: Type.String(),
});

/** What `GET /v1/status` answers (also what the CLI checks it receives). */
/** The cluster as a node knows it (src/node/trust.ts TrustSummary). */
export const TrustSchema = Type.Object({
  members: Type.Array(
    Type.Object({
      node: Type.String(),
      founder: Type.Boolean(),
      families: Type.Union([Type.Array(Type.String()), Type.Literal('all')]),
      removedFrom: Type.Union([Type.String(), Type.Null()]),
      keys: Type.Integer(),
    }),
  ),
  equivocations: Type.Array(Type.Object({ origin: Type.String(), seq: Type.String() })),
});

export const NodeStatusSchema = Type.Object({
  node: Type.String(),
  ready: Type.Boolean(),
  applied: Type.Record(Type.String(), Type.String()),
  buffered: Type.Integer(),
  writer: Type.Object({
    failed: Type.Union([Type.String(), Type.Null()]),
    batches: Type.Integer(),
    commands: Type.Integer(),
    events: Type.Integer(),
  }),
  driftAlarms: Type.Integer(),
  store: Type.String(),
  trust: TrustSchema,
  /** Why this node's key cannot sign its next event (not the one its cluster holds), if so. */
  keyProblem: Type.Union([Type.String(), Type.Null()]),
  /** Where the event log fails its integrity check (src/node/chain.ts), found at start. */
  logBreak: Type.Union([
    Type.Object({
      origin: Type.String(),
      seq: Type.String(),
      eventId: Type.Union([Type.String(), Type.Null()]),
      position: Type.Union([Type.String(), Type.Null()]),
      reason: Type.String(),
      detail: Type.String(),
    }),
    Type.Null(),
  ]),
  digest: Type.Optional(Type.String()),
  /** In place of `digest` when it could not be computed: what went wrong (SQLite's code). */
  digestError: Type.Optional(Type.String()),
});

/** What `GET /v1/conflicts` answers. */
export const ConflictsSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      kind: Type.String(),
      scope: Type.String(),
      subject: Type.String(),
      winner: Type.Union([Type.String(), Type.Null()]),
      detail: Type.Union([Type.String(), Type.Null()]),
      at: Type.String(),
    }),
  ),
});

export const RoleSchema = Type.Object({
  id: Type.String(),
  directoryId: Type.String(),
  name: Type.String(),
  status: Type.String(),
  parentId: Type.Union([Type.String(), Type.Null()]),
  effectiveParentId: Type.Union([Type.String(), Type.Null()]),
  deleted: Type.Boolean(),
});

export const GrantSchema = Type.Object({
  scope: Type.String(),
  name: Type.String(),
  objectId: Type.String(),
  effect: Type.String(),
});
