// A decision harness: `given(events).when(command, meta).then(events)` (or `.thenRefused(code)`),
// as emmett's decider specifications read, over the real read model. `given` projects domain
// events through the real projector into an in-memory SQLite read model with every projection;
// `when` runs the command's pure `decide` against it, as the writer queue does, without a store,
// a writer or HTTP. `then` compares the decided events as they would be recorded (type and data,
// JSON); the decision's result and the authority its events would record are on the outcome.
// The same read model answers `rows(sql)`, so a projection test is `given(event).rows(…)`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  ADMINISTRATORS_ROLE,
  DEFAULT_ROLE_DIRECTORY,
  type Effect,
} from '../../projections/authz.ts';
import { INTERNAL_DIRECTORY } from '../../projections/identities.ts';
import { projections } from '../../projections/index.ts';
import { encodeHlc } from '../../src/clock/hlc.ts';
import type { VersionVector } from '../../src/clock/version-vector.ts';
import { AppError } from '../../src/errors.ts';
import { CURRENT_SCHEMA, type DomainEvent } from '../../src/events/catalogue.ts';
import {
  type AuthorityUse,
  type Envelope,
  type EventMeta,
  SYSTEM_ACTOR,
} from '../../src/events/envelope.ts';
import * as normalize from '../../src/events/normalize.ts';
import {
  type Command,
  type CommandMeta,
  type Decision,
  recordedAuthority,
} from '../../src/node/command.ts';
import { openReadModel } from '../../src/readmodel/database.ts';
import type { Reader, SqlRow, SqlValue } from '../../src/readmodel/projection.ts';
import { createProjector } from '../../src/readmodel/projector.ts';

/** The harness's clock: `when` decides at NOW unless told otherwise; given events happened
 * before it, one second apart, the last one a second before NOW. */
export const NOW = Date.parse('2030-01-01T12:00:00.000Z');
export const DEFAULT_ORIGIN = 'n1';

/** A domain event with whatever envelope fields the test cares about; the rest is defaulted:
 * origin `n1`, the origin's next seq, an HLC at `at` (ms), deps = everything given before it
 * (causal), actor `system`. Give `deps` to make two origins' events concurrent. */
export type GivenEvent = DomainEvent &
  Omit<EventMeta, 'actor'> & {
    readonly actor?: string;
    readonly origin?: string;
    readonly at?: number;
    readonly deps?: VersionVector;
    readonly id?: string;
  };

/** The events of a decision as they would be recorded: type and data, as JSON. */
const recorded = (events: readonly DomainEvent[]): unknown =>
  JSON.parse(JSON.stringify(events.map(({ type, data }) => ({ type, data }))));

export type Outcome<R> = {
  /** The decided events (type and data); empty for a refusal. */
  readonly events: readonly DomainEvent[];
  readonly result: R | undefined;
  /** The authority the decision's events would record (envelope `authority`): each grant the
   * actor's access checks were allowed by, once, in order; undefined when none was used. */
  readonly authority: AuthorityUse[] | undefined;
  readonly error: unknown;
  /** Asserts the decision recorded exactly these events, in order. */
  then(expected: readonly DomainEvent[]): Outcome<R>;
  /** Asserts the command was refused with this `AppError` code. */
  thenRefused(code: string): Outcome<R>;
};

export type Scenario = {
  /** Runs `command.decide` against the projected state; `meta` defaults to the operator
   * (`system`) at NOW. */
  when<R>(command: Command<R>, meta?: Partial<CommandMeta>): Outcome<R>;
  /** The read model's rows for a query (plain objects). */
  rows(sql: string, ...params: SqlValue[]): SqlRow[];
  readonly read: Reader;
};

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

const outcomeOf = <R>(decide: () => Decision<R>): Outcome<R> => {
  let decision: Decision<R> | undefined;
  let error: unknown;
  try {
    decision = decide();
  } catch (err) {
    error = err;
  }
  const outcome: Outcome<R> = {
    events: decision?.events ?? [],
    result: decision?.result,
    authority: recordedAuthority(decision?.authority),
    error,
    // biome-ignore lint/suspicious/noThenProperty: the decider-specification vocabulary (emmett's `given/when/then`); an outcome is synchronous and never awaited.
    then(expected) {
      if (decision === undefined) assert.fail(`refused instead: ${describeError(error)}`);
      assert.deepEqual(recorded(decision.events), recorded(expected));
      return outcome;
    },
    thenRefused(code) {
      if (decision !== undefined)
        assert.fail(
          `decided instead of refusing with ${code}: ${JSON.stringify(recorded(decision.events))}`,
        );
      if (!(error instanceof AppError)) throw error;
      assert.equal(error.code, code, error.message);
      return outcome;
    },
  };
  return outcome;
};

export const given = (events: GivenEvent | readonly GivenEvent[] = []): Scenario => {
  const list: readonly GivenEvent[] = Array.isArray(events) ? events : [events as GivenEvent];
  const readModel = openReadModel(':memory:', projections);
  const projector = createProjector(readModel);
  const applied: Record<string, bigint> = {};
  projector.transaction(() => {
    list.forEach((g, i) => {
      const { origin = DEFAULT_ORIGIN, at, deps, id, actor, ...rest } = g;
      const seq = (applied[origin] ?? 0n) + 1n;
      const wall = at ?? NOW - (list.length - i) * 1000;
      const envelope = {
        ...rest,
        id: id ?? `given-${origin}-${String(seq).padStart(6, '0')}`,
        origin,
        seq,
        hlc: encodeHlc({ wall, counter: 0, node: origin }),
        deps: { ...(deps ?? applied), [origin]: seq - 1n },
        schema: CURRENT_SCHEMA,
        actor: actor ?? SYSTEM_ACTOR,
      } as Envelope;
      const outcome = projector.offer(envelope);
      if (outcome !== 'applied')
        throw new Error(`given event ${i} (${g.type}) was ${outcome}, not applied: check its deps`);
      applied[origin] = seq;
    });
  });
  return {
    when: (command, meta = {}) =>
      outcomeOf(() => command.decide(projector.read, { actor: SYSTEM_ACTOR, now: NOW, ...meta })),
    rows: (sql, ...params) => projector.read.all(sql, ...params).map((r) => ({ ...r })),
    read: projector.read,
  };
};

// Facts most scenarios start from, as the events that record them (names normalized as the
// commands would). Role and grant ids are the test's; the seed rows (`anonymous`, the `internal`
// identity directory, the `administrators` role holding `authlog.admin`, the `password`, `otp`,
// `subnet` and `gateway` credential directories, the built-in privileges) are always there.

export const principal = (
  principalId: string,
  pii: { readonly email?: string; readonly kind?: 'person' | 'service' } = {},
): DomainEvent => {
  const e = pii.email === undefined ? undefined : normalize.email('email', pii.email);
  return {
    type: 'PrincipalRegistered',
    data: {
      principalId,
      kind: pii.kind ?? 'person',
      pii: {
        briefName: principalId,
        fullName: principalId,
        email: e?.email ?? null,
        emailKey: e?.key ?? null,
        phone: null,
      },
    },
  };
};

export const identity = (
  identityId: string,
  principalId: string,
  name: string,
  directoryId = INTERNAL_DIRECTORY,
): DomainEvent => ({
  type: 'IdentityAdded',
  data: { identityId, directoryId, principalId, pii: normalize.claimedName('name', name) },
});

export const role = (roleId: string, parentId: string | null = null): DomainEvent => ({
  type: 'RoleDefined',
  data: { roleId, directoryId: DEFAULT_ROLE_DIRECTORY, name: roleId, key: roleId, parentId },
});

export const privilegeOf = (
  roleId: string,
  privilege: string,
  effect: Effect = 'grant',
): DomainEvent => ({ type: 'RolePrivilegeSet', data: { roleId, privilege, effect } });

export const member = (roleId: string, principalId: string): DomainEvent => ({
  type: 'RoleMembershipGranted',
  data: { roleId, principalId },
});

/** A principal holding `privileges` through a role of its own (`<principalId>-role`). */
/** A password set for a principal in the password directory, valid at any time. */
export const passwordSet = (
  principalId: string,
  credentialId: string,
  hash: string,
): DomainEvent => ({
  type: 'PasswordSet',
  data: {
    credentialId,
    principalId,
    directoryId: 'password',
    hash,
    rehash: false,
    validFrom: null,
    validUntil: null,
  },
});

export const holder = (principalId: string, ...privileges: string[]): DomainEvent[] => [
  principal(principalId),
  role(`${principalId}-role`),
  ...privileges.map((p) => privilegeOf(`${principalId}-role`, p)),
  member(`${principalId}-role`, principalId),
];

/** A principal in the built-in `administrators` role. */
export const administrator = (principalId: string): DomainEvent[] => [
  principal(principalId),
  member(ADMINISTRATORS_ROLE, principalId),
];

/** Meta of a principal acting from an elevated session (what sensitive changes need). */
export const elevated = (actor: string): Partial<CommandMeta> => ({
  actor,
  credential: 'session',
  elevated: true,
  evidences: new Set(['knowledge']),
});

/** Meta of a principal acting from a session that is not elevated. */
export const unelevated = (actor: string): Partial<CommandMeta> => ({
  actor,
  credential: 'session',
  elevated: false,
  evidences: new Set(['knowledge']),
});

/** A bearer session of `principalId` proven by its password credential `credentialId` an hour
 * before NOW, open until the next day. */
export const sessionStarted = (
  sessionId: string,
  principalId: string,
  credentialId = `${principalId}-pw`,
): DomainEvent => ({
  type: 'SessionStarted',
  data: {
    sessionId,
    principalId,
    transport: 'bearer',
    tokenHash: sha256(sessionId),
    expiresAt: new Date(NOW + 12 * 3600_000).toISOString(),
    idleTimeoutSeconds: 3600,
    evidences: [
      {
        evidence: 'knowledge',
        method: 'password',
        credentialId,
        at: new Date(NOW - 3600_000).toISOString(),
        expiresAt: new Date(NOW + 11 * 3600_000).toISOString(),
      },
    ],
  },
});

/** The hex SHA-256 of `text` (token hashes in events). */
export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
