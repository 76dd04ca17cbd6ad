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
//
// Cost: revocations are rare, so each one is kept (`authority_revocations`) and an administrative
// event only probes that table by its actor — an empty index range for almost every event. A
// revocation looks for the actor's earlier administrative events in the audit rows (one per
// event, indexed by actor; the audit projection runs before this one, and a read model without
// the audit trail has no authority races either: see `projectionsWithoutAudit`), so no second
// per-event log is kept.
import { eventTypes } from '../src/events/catalogue.ts';
import { type Envelope, SYSTEM_ACTOR } from '../src/events/envelope.ts';
import type { Handlers, Projection, Statement } from '../src/readmodel/projection.ts';
import { sql } from '../src/readmodel/projection.ts';
import { encodeVector } from '../src/replication/version-vector.ts';

/** Events that do not use administrative authority: sign-in bookkeeping and the trail itself.
 * (Type names only: they are inlined into SQL.) */
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

const ADMINISTRATIVE_TYPE = `type NOT IN (${[...NOT_ADMINISTRATIVE].map((t) => `'${t}'`).join(', ')})`;

const handle = (e: Envelope): Statement[] => {
  const out: Statement[] = [];
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

export const authority: Projection = {
  name: 'authority',
  ddl: [
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
