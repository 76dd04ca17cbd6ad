// Authority races (DESIGN.md section 5). An administrative event was authorized at its origin,
// against that origin's causal past. If a revocation of the actor's authority — the actor
// deactivated or deleted, or one of its role memberships revoked — is concurrent with it, the
// event still applies, and the pair is recorded here for review. Whether two events are
// concurrent is a property of the two events (`a.deps[b.origin] < b.seq` and the other way), and
// delivery is causal, so whichever arrives second finds the first and every node lists the same
// pairs. This is the one place the check lives; quarantining such events would become a rule here.
//
// Not traced: a privilege revoked from a role, or a role deleted, reaches its members through
// memberships that are state, not part of either event; those races are not listed.
import { eventTypes } from '../src/events/catalogue.ts';
import { type Envelope, SYSTEM_ACTOR } from '../src/events/envelope.ts';
import type { Handlers, Projection, Statement } from '../src/readmodel/projection.ts';
import { sql } from '../src/readmodel/projection.ts';
import { encodeVector } from '../src/replication/version-vector.ts';

/** Events that do not use administrative authority: sign-in bookkeeping and the trail itself. */
const NOT_ADMINISTRATIVE: ReadonlySet<string> = new Set([
  'OtpUsed',
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
/** SQL: the seq of `origin` that a deps vector (bound as the parameter) had seen. */
const seenBy = (origin: string) =>
  `COALESCE((SELECT CAST(d.value AS INTEGER) FROM json_each(?) d WHERE d.key = ${origin}), 0)`;

const handle = (e: Envelope): Statement[] => {
  const out: Statement[] = [];
  if (e.actor !== SYSTEM_ACTOR && !NOT_ADMINISTRATIVE.has(e.type)) {
    out.push(
      sql(
        'INSERT INTO authority_log (event_id, actor, origin, seq, type, hlc) VALUES (?, ?, ?, ?, ?, ?)',
        e.id,
        e.actor,
        e.origin,
        e.seq,
        e.type,
        e.hlc,
      ),
      // Revocations of this actor's authority that this event had not seen.
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
         SELECT l.event_id, ?, l.actor, l.type, ?, MAX(l.hlc, ?) FROM authority_log l
         WHERE l.actor = ? AND l.origin <> ? AND l.seq > ${seenBy('l.origin')}`,
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

export const authority: Projection = {
  name: 'authority',
  ddl: [
    `CREATE TABLE authority_log (
      event_id TEXT PRIMARY KEY, actor TEXT NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL,
      type TEXT NOT NULL, hlc TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX authority_log_actor ON authority_log (actor, origin, seq)',
    `CREATE TABLE authority_revocations (
      event_id TEXT PRIMARY KEY, subject TEXT NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL,
      type TEXT NOT NULL, hlc TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX authority_revocations_subject ON authority_revocations (subject, origin, seq)',
    `CREATE TABLE authority_races (
      event_id TEXT NOT NULL, revocation_id TEXT NOT NULL, actor TEXT NOT NULL,
      event_type TEXT NOT NULL, revocation_type TEXT NOT NULL, hlc TEXT NOT NULL,
      PRIMARY KEY (event_id, revocation_id)) WITHOUT ROWID`,
  ],
  conflicts: [
    `SELECT 'authority-race', 'actor:' || a.actor, a.event_id, a.revocation_id,
       a.event_type || ' concurrent with ' || a.revocation_type, a.hlc
     FROM authority_races a`,
  ],
  handlers: Object.fromEntries(eventTypes.map((t) => [t, handle])) as Handlers,
};
