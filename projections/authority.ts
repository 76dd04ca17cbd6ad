// Authority races (DESIGN.md section 5). An administrative event was authorized at its origin,
// against that origin's causal past. If a revocation of the actor's authority — the actor
// deactivated or deleted, or one of its role memberships revoked — is concurrent with it, the
// event is quarantined: it is inert (no projection but the audit trail and this one sees it),
// the pair is listed here, and an administrator re-affirms it, if it should stand, with a new
// command (which has seen the revocation, so it is not concurrent with it). Whether two events
// are concurrent is a property of the two events (`a.deps[b.origin] < b.seq` and the other way),
// so every node quarantines the same events: when the revocation arrives first, the event is
// inert as it is applied; when it arrives second, the events it quarantines had effects, and the
// read model is replayed from the log (`retroactive`, src/node/replay.ts) with every revocation
// of the log known before the first event is applied (`_authority_foresight`).
//
// Which events: administrative ones that confer or change; events that only take away (a
// revocation, a deactivation, a session ended, a node removed) always stand, whatever their
// author's standing, and so do the cluster's own facts (a key rotation, evidence of
// equivocation). A revocation counts whether or not it is itself quarantined: the rule needs no
// fixpoint, and it errs on the side of less authority (the security bias of section 5).
// Not followed further: events whose authority came from a quarantined event (a membership a
// quarantined grant gave) stand; re-affirming is the administrator's call.
//
// Two kinds of revocation are traced:
// - of the actor: deactivated, deleted, or removed from a role. The revocation names the actor,
//   so an administrative event is paired with the actor's revocations it had not seen.
// - of a grant: a privilege, model or object permission set to anything but `grant` on a role,
//   the role deleted, or a new parent for a role the grant was inherited through. Which grant
//   allowed an event is decided at its origin and recorded on the event (`authority` in the
//   envelope, src/authz/admin.ts): the actor's role, the roles it inherited through, and the
//   role the grant came from. So the pair is again a property of the two events. A revocation
//   on any role of that chain counts (a role's own setting overrides what it inherits), and a
//   model permission revoked also covers object permissions of the same type and action.
// Not traced: events from before the envelope carried `authority`.
//
// Cost: revocations are rare, so each one is kept (`authority_revocations`) and an administrative
// event only probes that table by its actor — an empty index range for almost every event. A
// revocation looks for the actor's earlier administrative events in the audit rows (one per
// event, indexed by actor; the audit projection runs before this one, and a read model without
// the audit trail has no authority races either: see `projectionsWithoutAudit`), so no second
// per-event log is kept. Grant uses are kept (`authority_uses`, a row per role of the chain for
// each event that carries `authority`), since the audit rows do not hold them.

import { encodeVector } from '../src/clock/version-vector.ts';
import { eventTypes } from '../src/events/catalogue.ts';
import { type Envelope, SYSTEM_ACTOR } from '../src/events/envelope.ts';
import type {
  Handlers,
  Projection,
  Reader,
  SqlRow,
  Statement,
} from '../src/readmodel/projection.ts';
import { sql } from '../src/readmodel/projection.ts';

/** Events that do not use administrative authority: sign-in bookkeeping and the trail itself.
 * (Type names only: they are inlined into SQL.) */
const NOT_ADMINISTRATIVE: ReadonlySet<string> = new Set([
  'OtpUsed',
  'RecoveryCodeUsed',
  'SessionStarted',
  'SessionEvidenceAdded',
  'SessionElevated',
  'SessionTouched',
  'AuthenticationFailed',
  'AuthenticationSucceeded',
  'PrincipalLockedOut',
  'AuditRead',
  'AccessDenied',
]);

/** Events that take authority away from a principal, and which principal. */
const revokedFrom = (e: Envelope): string | undefined => {
  switch (e.type) {
    case 'PrincipalDeactivated':
    case 'PrincipalDeleted':
    case 'RoleMembershipRevoked':
      return e.data.principalId;
    default:
      return undefined;
  }
};

const depsOf = (e: Envelope) => JSON.stringify(encodeVector(e.deps));

/** Administrative events that only take away: never quarantined. (Type names only.) */
const ONLY_TAKE_AWAY: ReadonlySet<string> = new Set([
  'PrincipalDeactivated',
  'PrincipalDeleted',
  'IdentityRemoved',
  'CredentialRevoked',
  'SessionEnded',
  'RoleDeleted',
  'RoleMembershipRevoked',
  'NodeRemoved',
  // The cluster's facts: a key rotation is the node's own, evidence is evidence.
  'NodeKeyRotated',
  'EquivocationDetected',
  'ReplicationRefused',
]);

/** Whether `e` is quarantined when a revocation of its authority is concurrent with it. */
const quarantinable = (e: Envelope): boolean =>
  e.actor !== SYSTEM_ACTOR &&
  !NOT_ADMINISTRATIVE.has(e.type) &&
  !ONLY_TAKE_AWAY.has(e.type) &&
  revokedGrant(e) === undefined;
/** SQL: the seq of `origin` that a deps vector (bound as the parameter) had seen. */
const seenBy = (origin: string) =>
  `COALESCE((SELECT CAST(d.value AS INTEGER) FROM json_each(?) d WHERE d.key = ${origin}), 0)`;

const ADMINISTRATIVE_TYPE = `type NOT IN (${[...NOT_ADMINISTRATIVE].map((t) => `'${t}'`).join(', ')})`;

/** What a grant revocation takes away, as uses name it (src/authz/admin.ts grantKey): a grant
 * key, a model key (which also covers that type and action's object grants), or `*` for every
 * grant of the role. */
const revokedGrant = (e: Envelope): { role: string; target: string } | undefined => {
  switch (e.type) {
    case 'RolePrivilegeSet':
      return e.data.effect === 'grant'
        ? undefined
        : { role: e.data.roleId, target: `privilege:${e.data.privilege}` };
    case 'RoleModelPermissionSet':
      return e.data.effect === 'grant'
        ? undefined
        : { role: e.data.roleId, target: `model:${e.data.resourceType}:${e.data.action}` };
    case 'ObjectPermissionSet':
      return e.data.effect === 'grant'
        ? undefined
        : {
            role: e.data.roleId,
            target: `object:${e.data.resourceType}:${e.data.action}:${e.data.objectId}`,
          };
    case 'RoleDeleted':
      return { role: e.data.roleId, target: '*' };
    // A new parent (or none): grants the role inherited may be gone.
    case 'RoleChanged':
      return e.data.parentId === undefined ? undefined : { role: e.data.roleId, target: 'parent' };
    default:
      return undefined;
  }
};

/** A use's scope: the model key its grant falls under (object grants), else the grant itself. */
const scopeOf = (grant: string): string => {
  if (!grant.startsWith('object:')) return grant;
  const [, type, action] = grant.split(':');
  return `model:${type}:${action}`;
};

/** The (role, grant) pairs an event's authority rests on: every role from the actor's to the
 * granting one, and whether the grant reaches that role through its parent. */
const usesOf = (e: Envelope): { role: string; grant: string; inherits: boolean }[] => {
  const pairs = new Map<string, { role: string; grant: string; inherits: boolean }>();
  for (const u of e.authority ?? []) {
    for (const role of [u.role, ...(u.between ?? []), u.grantedBy]) {
      const key = `${role}\u0000${u.grant}`;
      const inherits = role !== u.grantedBy || pairs.get(key)?.inherits === true;
      pairs.set(key, { role, grant: u.grant, inherits });
    }
  }
  return [...pairs.values()];
};

const grantRaces = (e: Envelope, out: Statement[]) => {
  const administrative = e.actor !== SYSTEM_ACTOR && !NOT_ADMINISTRATIVE.has(e.type);
  for (const { role, grant, inherits } of administrative ? usesOf(e) : []) {
    const scope = scopeOf(grant);
    out.push(
      sql(
        'INSERT OR IGNORE INTO authority_uses (role, grant, scope, inherits, event_id, origin, seq, actor, type, hlc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        role,
        grant,
        scope,
        inherits ? 1 : 0,
        e.id,
        e.origin,
        e.seq,
        e.actor,
        e.type,
        e.hlc,
      ),
      // Revocations of this grant that this event had not seen.
      sql(
        `INSERT OR IGNORE INTO authority_races (event_id, revocation_id, actor, event_type, revocation_type, hlc)
         SELECT ?, r.event_id, ?, ?, r.type, MAX(?, r.hlc) FROM authority_grant_revocations r
         WHERE r.role = ? AND r.target IN ('*', ?, ?, ?) AND r.origin <> ? AND r.seq > ${seenBy('r.origin')}`,
        e.id,
        e.actor,
        e.type,
        e.hlc,
        role,
        grant,
        scope,
        inherits ? 'parent' : '*',
        e.origin,
        depsOf(e),
      ),
    );
  }
  const revoked = revokedGrant(e);
  if (revoked === undefined) return;
  out.push(
    sql(
      'INSERT INTO authority_grant_revocations (event_id, role, target, origin, seq, type, hlc) VALUES (?, ?, ?, ?, ?, ?, ?)',
      e.id,
      revoked.role,
      revoked.target,
      e.origin,
      e.seq,
      e.type,
      e.hlc,
    ),
    // Events that used this grant and that this revocation had not seen.
    sql(
      `INSERT OR IGNORE INTO authority_races (event_id, revocation_id, actor, event_type, revocation_type, hlc)
       SELECT u.event_id, ?, u.actor, u.type, ?, MAX(u.hlc, ?) FROM authority_uses u
       WHERE u.role = ? AND (? = '*' OR u.grant = ? OR u.scope = ? OR (? = 'parent' AND u.inherits = 1))
         AND u.origin <> ? AND u.seq > ${seenBy('u.origin')}`,
      e.id,
      e.type,
      e.hlc,
      revoked.role,
      revoked.target,
      revoked.target,
      revoked.target,
      revoked.target,
      e.origin,
      depsOf(e),
    ),
  );
};

const handle = (e: Envelope): Statement[] => {
  const out: Statement[] = [];
  grantRaces(e, out);
  if (e.actor !== SYSTEM_ACTOR && !NOT_ADMINISTRATIVE.has(e.type)) {
    // Revocations of this actor's authority that this event had not seen.
    out.push(
      sql(
        `INSERT OR IGNORE INTO authority_races (event_id, revocation_id, actor, event_type, revocation_type, hlc)
         SELECT ?, r.event_id, r.subject, ?, r.type, MAX(?, r.hlc) FROM authority_revocations r
         WHERE r.subject = ? AND r.origin <> ? AND r.seq > ${seenBy('r.origin')}`,
        e.id,
        e.type,
        e.hlc,
        e.actor,
        e.origin,
        depsOf(e),
      ),
    );
  }
  const subject = revokedFrom(e);
  if (subject !== undefined) {
    out.push(
      sql(
        'INSERT INTO authority_revocations (event_id, subject, origin, seq, type, hlc) VALUES (?, ?, ?, ?, ?, ?)',
        e.id,
        subject,
        e.origin,
        e.seq,
        e.type,
        e.hlc,
      ),
      // The subject's administrative events that this revocation had not seen.
      sql(
        `INSERT OR IGNORE INTO authority_races (event_id, revocation_id, actor, event_type, revocation_type, hlc)
         SELECT a.event_id, ?, a.actor, a.type, ?, MAX(a.hlc, ?) FROM audit a
         WHERE a.actor = ? AND a.origin <> ? AND a.${ADMINISTRATIVE_TYPE}
           AND a.seq > ${seenBy('a.origin')}`,
        e.id,
        e.type,
        e.hlc,
        subject,
        e.origin,
        depsOf(e),
      ),
    );
  }
  return out;
};

/** SQL: a foresight row `f` had not seen the event (bound: the event's origin as a JSON path,
 * then its seq). */
const notSeenByForesight = `COALESCE(CAST(json_extract(f.deps, ?) AS INTEGER), 0) < ?`;

/** The revocation `e` is quarantined by, if any: of its actor, or of a grant it acted by,
 * concurrent with it. Applied revocations were delivered before `e`, so they had not seen it;
 * a replay's foresight rows may come after it in the log, so that is checked too. */
const quarantinedBy = (e: Envelope, read: Reader): SqlRow | undefined => {
  const deps = depsOf(e);
  const path = `$."${e.origin}"`;
  const byActor =
    read.get(
      `SELECT r.event_id, r.type FROM authority_revocations r
        WHERE r.subject = ? AND r.origin <> ? AND r.seq > ${seenBy('r.origin')} LIMIT 1`,
      e.actor,
      e.origin,
      deps,
    ) ??
    read.get(
      `SELECT f.event_id, f.type FROM _authority_foresight f
        WHERE f.subject = ? AND f.origin <> ? AND f.seq > ${seenBy('f.origin')}
          AND ${notSeenByForesight} LIMIT 1`,
      e.actor,
      e.origin,
      deps,
      path,
      e.seq,
    );
  if (byActor) return byActor;
  for (const { role, grant, inherits } of usesOf(e)) {
    const targets = ['*', grant, scopeOf(grant), inherits ? 'parent' : '*'] as const;
    const found =
      read.get(
        `SELECT r.event_id, r.type FROM authority_grant_revocations r
          WHERE r.role = ? AND r.target IN (?, ?, ?, ?) AND r.origin <> ?
            AND r.seq > ${seenBy('r.origin')} LIMIT 1`,
        role,
        ...targets,
        e.origin,
        deps,
      ) ??
      read.get(
        `SELECT f.event_id, f.type FROM _authority_foresight f
          WHERE f.role = ? AND f.target IN (?, ?, ?, ?) AND f.origin <> ?
            AND f.seq > ${seenBy('f.origin')} AND ${notSeenByForesight} LIMIT 1`,
        role,
        ...targets,
        e.origin,
        deps,
        path,
        e.seq,
      );
    if (found) return found;
  }
  return undefined;
};

export const authority: Projection = {
  name: 'authority',
  inert: (e, read) => {
    if (!quarantinable(e)) return undefined;
    // Which revocation is not named: with several, the first found depends on arrival order.
    // The authority races list every pair.
    return quarantinedBy(e, read)
      ? 'quarantined: concurrent with a revocation of the authority it was made by (see its authority races)'
      : undefined;
  },
  // Uses, revocations and races are recorded whichever side is inert.
  seesInert: true,
  foresight: (e) => {
    const subject = revokedFrom(e);
    const grant = revokedGrant(e);
    if (subject === undefined && grant === undefined) return [];
    return [
      sql(
        'INSERT OR IGNORE INTO _authority_foresight (event_id, subject, role, target, origin, seq, type, deps) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        e.id,
        subject ?? null,
        grant?.role ?? null,
        grant?.target ?? null,
        e.origin,
        e.seq,
        e.type,
        depsOf(e),
      ),
    ];
  },
  // A revocation that finds administrative events applied before it and concurrent with it:
  // their effects must go, by a replay. (In a replay they are inert already, its foresight
  // knowing the revocation, and the replay ends with the read model no longer stale.)
  retroactive: (e, read) =>
    (revokedFrom(e) !== undefined || revokedGrant(e) !== undefined) &&
    read.get(
      `SELECT 1 AS x FROM authority_races a
        WHERE a.revocation_id = ? AND a.event_type NOT IN (${[...NOT_ADMINISTRATIVE, ...ONLY_TAKE_AWAY].map((t) => `'${t}'`).join(', ')})
          AND a.event_id NOT IN (SELECT event_id FROM authority_grant_revocations) LIMIT 1`,
      e.id,
    ) !== undefined,
  ddl: [
    `CREATE TABLE authority_revocations (
      event_id TEXT PRIMARY KEY, subject TEXT NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL,
      type TEXT NOT NULL, hlc TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX authority_revocations_subject ON authority_revocations (subject, origin, seq)',
    // Grants administrative events were authorized by, and revocations of grants. Both are
    // found by role; a use by its grant or its scope, a revocation by its target.
    `CREATE TABLE authority_uses (
      role TEXT NOT NULL, grant TEXT NOT NULL, scope TEXT NOT NULL, inherits INTEGER NOT NULL,
      event_id TEXT NOT NULL,
      origin TEXT NOT NULL, seq INTEGER NOT NULL, actor TEXT NOT NULL, type TEXT NOT NULL,
      hlc TEXT NOT NULL, PRIMARY KEY (role, grant, event_id)) WITHOUT ROWID`,
    'CREATE INDEX authority_uses_scope ON authority_uses (role, scope)',
    `CREATE TABLE authority_grant_revocations (
      role TEXT NOT NULL, target TEXT NOT NULL, event_id TEXT NOT NULL, origin TEXT NOT NULL,
      seq INTEGER NOT NULL, type TEXT NOT NULL, hlc TEXT NOT NULL,
      PRIMARY KEY (role, target, event_id)) WITHOUT ROWID`,
    `CREATE TABLE authority_races (
      event_id TEXT NOT NULL, revocation_id TEXT NOT NULL, actor TEXT NOT NULL,
      event_type TEXT NOT NULL, revocation_type TEXT NOT NULL, hlc TEXT NOT NULL,
      PRIMARY KEY (event_id, revocation_id)) WITHOUT ROWID`,
    // A replay's knowledge of every revocation in the log, before its first event is applied.
    `CREATE TABLE _authority_foresight (
      event_id TEXT PRIMARY KEY, subject TEXT, role TEXT, target TEXT, origin TEXT NOT NULL,
      seq INTEGER NOT NULL, type TEXT NOT NULL, deps TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX _authority_foresight_subject ON _authority_foresight (subject)',
    'CREATE INDEX _authority_foresight_role ON _authority_foresight (role, target)',
  ],
  conflicts: [
    `SELECT 'authority-race', 'actor:' || a.actor, a.event_id, a.revocation_id,
       a.event_type || ' concurrent with ' || a.revocation_type, a.hlc
     FROM authority_races a`,
  ],
  handlers: Object.fromEntries(eventTypes.map((t) => [t, handle])) as Handlers,
};
