// Sessions, authentication attempts, lockout and authentication policies.
// - A session row is created once (its id is a ULID made at its origin); its token hash and its
//   elevation are LWW registers (rotation at two sites at once: the later one's token wins, the
//   other's stops working); `touched_at` only grows (max); the end is terminal, and among
//   concurrent ends the earliest HLC gives the recorded reason.
// - Evidences of a session are a grow-only set: whatever order they arrive in, the set is the
//   same; which of them count is decided at use time against their own expiry.
// - Failures are a grow-only set too; the consecutive count is the failures after `reset_hlc`
//   (max of the principal's last session start, Basic success and unlock), so it converges.
// - Lockout is a restrictive register: a lockout concurrent with an unlock wins (the safe side);
//   an unlock made after seeing the lockout ends it.
// - Policies are LWW per (scope, subject).
import type { EventPayload } from '../src/events/catalogue.ts';
import { type Projection, type Statement, sql } from '../src/readmodel/projection.ts';
import {
  earliestUpdate,
  lwwUpdate,
  restrictiveValue,
  restrictiveWrite,
} from '../src/readmodel/registers.ts';

const LOCKOUT = 'principal.lockout';

type SessionEvidence = EventPayload<'SessionStarted'>['evidences'][number];

const addEvidences = (
  sessionId: string,
  eventId: string,
  evidences: readonly SessionEvidence[],
): Statement[] =>
  evidences.map((v) =>
    sql(
      `INSERT INTO session_evidences (session_id, event_id, evidence, method, credential_id, at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      sessionId,
      eventId,
      v.evidence,
      v.method,
      v.credentialId,
      v.at,
      v.expiresAt,
    ),
  );

const lockoutRow = (principalId: string): Statement =>
  sql(
    'INSERT INTO principal_lockouts (principal_id, reset_hlc) VALUES (?, ?) ON CONFLICT DO NOTHING',
    principalId,
    '',
  );

// One upsert, not insert-then-update: every login runs it (a success resets the count).
const resetFailures = (principalId: string, hlc: string): Statement[] => [
  sql(
    `INSERT INTO principal_lockouts (principal_id, reset_hlc) VALUES (?, ?)
     ON CONFLICT (principal_id) DO UPDATE SET reset_hlc = max(reset_hlc, excluded.reset_hlc)`,
    principalId,
    hlc,
  ),
];

const settleLockout = (principalId: string): Statement =>
  sql(
    `UPDATE principal_lockouts SET locked_until = (SELECT CASE WHEN v LIKE 'locked:%' THEN substr(v, 8) END
       FROM (SELECT ${restrictiveValue(LOCKOUT, '?', 'unlocked')} AS v)) WHERE principal_id = ?`,
    principalId,
    principalId,
  );

export const sessions: Projection = {
  name: 'sessions',
  ddl: [
    `CREATE TABLE sessions (
      id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, transport TEXT NOT NULL,
      token_hash TEXT NOT NULL, token_hlc TEXT NOT NULL,
      expires_at TEXT NOT NULL, idle_seconds INTEGER NOT NULL, started_hlc TEXT NOT NULL,
      touched_at TEXT NOT NULL, identity_directory TEXT,
      elevated_until TEXT, elevated_hlc TEXT,
      ended INTEGER NOT NULL DEFAULT 0, ended_hlc TEXT, end_reason TEXT,
      created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX sessions_token ON sessions (token_hash)',
    'CREATE INDEX sessions_principal ON sessions (principal_id, ended)',
    `CREATE TABLE session_evidences (
      session_id TEXT NOT NULL, event_id TEXT NOT NULL, evidence TEXT NOT NULL, method TEXT NOT NULL,
      credential_id TEXT NOT NULL, at TEXT NOT NULL, expires_at TEXT NOT NULL,
      PRIMARY KEY (session_id, event_id, evidence, credential_id)) WITHOUT ROWID`,
    `CREATE TABLE auth_failures (
      event_id TEXT PRIMARY KEY, principal_id TEXT, hlc TEXT NOT NULL, reason TEXT NOT NULL,
      step TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX auth_failures_principal ON auth_failures (principal_id, hlc)',
    `CREATE TABLE principal_lockouts (
      principal_id TEXT PRIMARY KEY, locked_until TEXT, reset_hlc TEXT NOT NULL) WITHOUT ROWID`,
    // Every lockout (a set, so any delivery order converges): the ones after `reset_hlc` (the
    // last success or unlock) set how long the next one lasts.
    `CREATE TABLE principal_lockout_history (
      principal_id TEXT NOT NULL, hlc TEXT NOT NULL, PRIMARY KEY (principal_id, hlc)) WITHOUT ROWID`,
    `CREATE TABLE auth_policies (
      scope TEXT NOT NULL, subject_id TEXT NOT NULL, require TEXT NOT NULL, elevate TEXT NOT NULL,
      hlc TEXT NOT NULL, PRIMARY KEY (scope, subject_id)) WITHOUT ROWID`,
  ],
  handlers: {
    SessionStarted: (e) => {
      const d = e.data;
      return [
        sql(
          `INSERT INTO sessions (id, principal_id, transport, token_hash, token_hlc, expires_at, idle_seconds,
             started_hlc, touched_at, identity_directory, created_by, origin)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
          d.sessionId,
          d.principalId,
          d.transport,
          d.tokenHash,
          e.hlc,
          d.expiresAt,
          d.idleTimeoutSeconds,
          e.hlc,
          d.evidences[0]?.at ?? '',
          d.identityDirectoryId ?? null,
          e.actor,
          e.origin,
        ),
        ...addEvidences(d.sessionId, e.id, d.evidences),
        // A trusted device let through a lockout resets nothing for the others (lockout.ts).
        ...(d.throughLockout ? [] : resetFailures(d.principalId, e.hlc)),
      ];
    },
    SessionEvidenceAdded: (e) => [
      lwwUpdate(
        'sessions',
        { id: e.data.sessionId },
        [{ hlcColumn: 'token_hlc', values: { token_hash: e.data.tokenHash } }],
        e.hlc,
      ),
      ...addEvidences(e.data.sessionId, e.id, e.data.evidences),
    ],
    SessionElevated: (e) => [
      lwwUpdate(
        'sessions',
        { id: e.data.sessionId },
        [
          { hlcColumn: 'token_hlc', values: { token_hash: e.data.tokenHash } },
          { hlcColumn: 'elevated_hlc', values: { elevated_until: e.data.until } },
        ],
        e.hlc,
      ),
      ...addEvidences(e.data.sessionId, e.id, e.data.evidences),
    ],
    SessionTouched: (e) => [
      sql(
        'UPDATE sessions SET touched_at = max(touched_at, ?) WHERE id = ?',
        e.data.at,
        e.data.sessionId,
      ),
    ],
    SessionEnded: (e) => [
      earliestUpdate(
        'sessions',
        { id: e.data.sessionId },
        [{ hlcColumn: 'ended_hlc', values: { ended: 1, end_reason: e.data.reason } }],
        e.hlc,
      ),
    ],
    AuthenticationFailed: (e) => [
      sql(
        'INSERT INTO auth_failures (event_id, principal_id, hlc, reason, step) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        e.id,
        e.data.principalId,
        e.hlc,
        e.data.reason,
        e.data.step,
      ),
    ],
    AuthenticationSucceeded: (e) => resetFailures(e.data.principalId, e.hlc),
    PrincipalLockedOut: (e) => [
      lockoutRow(e.data.principalId),
      ...restrictiveWrite(LOCKOUT, e.data.principalId, e, `locked:${e.data.until}`, 1),
      sql(
        'INSERT OR IGNORE INTO principal_lockout_history (principal_id, hlc) VALUES (?, ?)',
        e.data.principalId,
        e.hlc,
      ),
      settleLockout(e.data.principalId),
    ],
    PrincipalUnlocked: (e) => [
      ...resetFailures(e.data.principalId, e.hlc),
      ...restrictiveWrite(LOCKOUT, e.data.principalId, e, 'unlocked', 0),
      settleLockout(e.data.principalId),
    ],
    AuthPolicySet: (e) => [
      sql(
        `INSERT INTO auth_policies (scope, subject_id, require, elevate, hlc) VALUES (?, ?, '[]', '[]', '')
         ON CONFLICT DO NOTHING`,
        e.data.scope,
        e.data.subjectId,
      ),
      lwwUpdate(
        'auth_policies',
        { scope: e.data.scope, subject_id: e.data.subjectId },
        [
          {
            hlcColumn: 'hlc',
            values: {
              require: JSON.stringify([...new Set(e.data.require)].sort()),
              elevate: JSON.stringify([...new Set(e.data.elevate)].sort()),
            },
          },
        ],
        e.hlc,
      ),
    ],
  },
};
