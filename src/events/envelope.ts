// The envelope: replication and accounting metadata every event carries besides type and data.
// In memory seq and deps are bigint; in the store and on the wire they are decimal strings.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { isHlc } from '../clock/hlc.ts';
import { decodeVector, encodeVector, type VersionVector } from '../clock/version-vector.ts';
import type { EventData, JsonObject, RecordedEvent } from '../store/port.ts';
import {
  CURRENT_SCHEMA,
  type DomainEvent,
  type EventSchemas,
  type EventType,
  eventSchemas,
  isEventType,
} from './catalogue.ts';
import { upcast } from './upcast.ts';

/**
 * A grant an administrative event was authorized by at its origin (src/authz/admin.ts): the
 * actor's role, the role whose grant it is (that role or an ancestor), the roles the grant was
 * inherited through between the two, and the grant's key (`privilege:<name>`,
 * `model:<type>:<action>`, `object:<type>:<action>:<id>`). Recorded so that a concurrent
 * revocation of that grant, or a parent change on its way, is an authority race between the two
 * events alone (projections/authority.ts), the same on every node whatever the delivery order.
 */
export type AuthorityUse = {
  readonly role: string;
  readonly grantedBy: string;
  readonly grant: string;
  /** Roles between `role` and `grantedBy`, nearest first; left out when there are none. */
  readonly between?: readonly string[];
};

/** Who caused an event and from where: recorded for accounting. */
export type EventMeta = {
  /** Principal id that caused it, or `system`. */
  readonly actor: string;
  /** Session or token id the actor used. */
  readonly via?: string;
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly ip?: string;
  readonly userAgent?: string;
  /** The grants the actor's authority came from; unset for `system` and for events that need
   * none. */
  readonly authority?: readonly AuthorityUse[];
};

export type Envelope<E extends DomainEvent = DomainEvent> = E &
  EventMeta & {
    /** ULID made at the origin; the idempotency key everywhere. */
    readonly id: string;
    readonly origin: string;
    /** 1-based, gap-free position in the origin's log. */
    readonly seq: bigint;
    readonly hlc: string;
    /** What the origin had applied when it decided, including its own seq - 1. */
    readonly deps: VersionVector;
    readonly schema: number;
    /** Hash of the origin's previous event (signature.ts); absent on an origin's first event. */
    readonly prev?: string;
    /** The origin node's Ed25519 signature over everything else (signature.ts). */
    readonly sig?: string;
  };

export const SYSTEM_ACTOR = 'system';
export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const originStream = (node: string): string => `origin-${node}`;
export const ORIGIN_STREAM_PREFIX = 'origin-';

const optional = (key: string, value: string | undefined): JsonObject =>
  value === undefined ? {} : { [key]: value };

export const toEventData = (e: Envelope): EventData => ({
  id: e.id,
  type: e.type,
  data: e.data as unknown as JsonObject,
  metadata: {
    origin: e.origin,
    seq: String(e.seq),
    hlc: e.hlc,
    deps: encodeVector(e.deps),
    schema: e.schema,
    actor: e.actor,
    ...optional('via', e.via),
    ...optional('correlationId', e.correlationId),
    ...optional('causationId', e.causationId),
    ...optional('ip', e.ip),
    ...optional('userAgent', e.userAgent),
    ...optional('prev', e.prev),
    ...optional('sig', e.sig),
    ...(e.authority === undefined
      ? {}
      : {
          authority: e.authority.map(({ role, grantedBy, grant, between }) => ({
            role,
            grantedBy,
            grant,
            ...(between === undefined ? {} : { between: [...between] }),
          })),
        }),
  },
});

export class MalformedEventError extends Error {
  override readonly name = 'MalformedEventError';
}

/** At most this many grants per event (the writer keeps the first: the command's own privilege
 * is checked first), each inherited through at most MAX_INHERITANCE roles. */
export const MAX_AUTHORITY_USES = 32;
export const MAX_INHERITANCE = 64;
// Longest key a grant can have: `object:` + type (100) + action (50) + object id (200 characters,
// up to 400 UTF-16 units) and separators, with room to spare.
const MAX_FIELD = 1000;

const authorityOf = (id: string, value: unknown): AuthorityUse[] | undefined => {
  if (value === undefined) return undefined;
  const bad = () => new MalformedEventError(`event ${id}: bad authority`);
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_AUTHORITY_USES) throw bad();
  return value.map((u: unknown) => {
    if (typeof u !== 'object' || u === null) throw bad();
    const { role, grantedBy, grant, between } = u as Record<string, unknown>;
    const path = between === undefined ? [] : between;
    if (!Array.isArray(path) || path.length > MAX_INHERITANCE) throw bad();
    for (const field of [role, grantedBy, grant, ...path])
      if (typeof field !== 'string' || field.length === 0 || field.length > MAX_FIELD) throw bad();
    return (
      between === undefined ? { role, grantedBy, grant } : { role, grantedBy, grant, between }
    ) as AuthorityUse;
  });
};

const checkers = Object.fromEntries(
  Object.entries(eventSchemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
) as { [T in EventType]: ReturnType<typeof TypeCompiler.Compile<EventSchemas[T]>> };

const str = (m: JsonObject, key: string): string | undefined => {
  const v = m[key];
  return typeof v === 'string' ? v : undefined;
};

/**
 * Reads an envelope back from a stored event. `validate` checks the payload against the
 * catalogue: required for anything that crossed a trust boundary (a peer's feed).
 */
export const fromRecorded = (
  r: Pick<RecordedEvent, 'id' | 'type' | 'data' | 'metadata'>,
  validate = false,
): Envelope => {
  const m = r.metadata;
  const origin = str(m, 'origin');
  const seq = str(m, 'seq');
  const hlc = str(m, 'hlc');
  const actor = str(m, 'actor');
  if (!isEventType(r.type)) throw new MalformedEventError(`event ${r.id}: unknown type ${r.type}`);
  if (origin === undefined || !NODE_ID_PATTERN.test(origin))
    throw new MalformedEventError(`event ${r.id}: bad origin`);
  if (seq === undefined || !/^[1-9][0-9]{0,18}$/.test(seq))
    throw new MalformedEventError(`event ${r.id}: bad seq`);
  if (hlc === undefined || !isHlc(hlc)) throw new MalformedEventError(`event ${r.id}: bad hlc`);
  // The clock's node part is the tie-break between equal times: an event stamped with another
  // node's name could tie with that node's own event, and LWW registers would then keep whichever
  // arrived first.
  if (!hlc.endsWith(`@${origin}`))
    throw new MalformedEventError(`event ${r.id}: hlc names another node than its origin`);
  if (actor === undefined) throw new MalformedEventError(`event ${r.id}: no actor`);
  let deps: VersionVector;
  try {
    deps = decodeVector(m.deps);
  } catch (cause) {
    throw new MalformedEventError(`event ${r.id}: bad deps`, { cause });
  }
  // Old payload shapes are brought to the current one before anything looks at them.
  let data = r.data;
  if (typeof m.schema === 'number' && m.schema !== CURRENT_SCHEMA) {
    try {
      data = upcast(r.type, m.schema, r.data);
    } catch (cause) {
      throw new MalformedEventError(`event ${r.id}: ${(cause as Error).message}`, { cause });
    }
  }
  if (validate && !checkers[r.type].Check(data)) {
    const first = checkers[r.type].Errors(data).First();
    throw new MalformedEventError(
      `event ${r.id} (${r.type}): ${first?.path ?? ''} ${first?.message ?? 'invalid'}`,
    );
  }
  return {
    id: r.id,
    type: r.type,
    data,
    origin,
    seq: BigInt(seq),
    hlc,
    deps,
    schema: CURRENT_SCHEMA,
    actor,
    via: str(m, 'via'),
    correlationId: str(m, 'correlationId'),
    causationId: str(m, 'causationId'),
    ip: str(m, 'ip'),
    userAgent: str(m, 'userAgent'),
    authority: authorityOf(r.id, m.authority),
    prev: str(m, 'prev'),
    sig: str(m, 'sig'),
  } as Envelope;
};
