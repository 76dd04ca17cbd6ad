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
// - Single-use secrets (an OTP time step or counter value, a recovery code, a passkey's non-zero
//   signature counter): every accepted use is kept, by secret. Two sites cut off from each other
//   can both accept one secret; once they exchange, the first use in HLC order (then event id) is
//   the one that counted, and every later use's session ends (`single-use-conflict`, at the later
//   use's HLC, a terminal end like any other) and the pair is listed as a conflict. The rule depends only on the set of uses, so every
//   node reaches it whichever arrives first, the use or the session (docs/single-use.md).
import type { EventPayload } from '../src/events/catalogue.ts';
import type { Envelope } from '../src/events/envelope.ts';
import {
  type Projection,
  type Reader,
  type SqlRow,
  type Statement,
  sql,
} from '../src/readmodel/projection.ts';
import {
  earliestUpdate,
  lwwUpdate,
  restrictiveValue,
  restrictiveWrite,
} from '../src/readmodel/registers.ts';
import { str, stringList, strOrNull } from '../src/readmodel/rows.ts';

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

/** The single-use secret an event consumed, and the session it served, if it is such an event. */
export const usedSecretOf = (
  e: Envelope,
): { readonly secret: string; readonly sessionId: string | null } | undefined => {
  if (e.type === 'OtpUsed') {
    const d = e.data;
    return { secret: `otp:${d.credentialId}:${d.step}`, sessionId: d.sessionId ?? null };
  }
  // One non-zero signature counter accepted twice (a site refuses one not above what it has seen,
  // so at two cut-off sites) means two authenticators hold the key (W3C WebAuthn L3 6.1.1): the
  // later use is a clone's, or the original's after a clone's, and its session ends. 0 is a
  // passkey that keeps no counter (synced): nothing to tell.
  if (e.type === 'PasskeyUsed') {
    const d = e.data;
    return d.counter === 0
      ? undefined
      : { secret: `passkey:${d.credentialId}:${d.counter}`, sessionId: d.sessionId ?? null };
  }
  if (e.type === 'RecoveryCodeUsed') {
    const d = e.data;
    return { secret: `recovery:${d.credentialId}:${d.index}`, sessionId: d.sessionId ?? null };
  }
  return undefined;
};

const END_BY_CONFLICT = 'single-use-conflict';

const endByConflict = (sessionId: string, hlc: string): Statement =>
  earliestUpdate(
    'sessions',
    { id: sessionId },
    [{ hlcColumn: 'ended_hlc', values: { ended: 1, end_reason: END_BY_CONFLICT } }],
    hlc,
  );

type Use = { readonly eventId: string; readonly hlc: string; readonly sessionId: string | null };
const byOrder = (a: Use, b: Use): number =>
  a.hlc < b.hlc
    ? -1
    : a.hlc > b.hlc
      ? 1
      : a.eventId < b.eventId
        ? -1
        : a.eventId > b.eventId
          ? 1
          : 0;

/** Records a use of a single-use secret; ends the session of every use after the first. */
const secretUsed = (e: Envelope, read: Reader): Statement[] => {
  const used = usedSecretOf(e);
  if (used === undefined) return [];
  const uses: Use[] = read
    .all('SELECT event_id, hlc, session_id FROM secret_uses WHERE secret = ?', used.secret)
    .map((r) => ({
      eventId: str(r, 'event_id'),
      hlc: str(r, 'hlc'),
      sessionId: strOrNull(r, 'session_id'),
    }))
    .filter((u) => u.eventId !== e.id);
  uses.push({ eventId: e.id, hlc: e.hlc, sessionId: used.sessionId });
  uses.sort(byOrder);
  return [
    sql(
      'INSERT INTO secret_uses (secret, event_id, hlc, session_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      used.secret,
      e.id,
      e.hlc,
      used.sessionId,
    ),
    ...uses
      .slice(1)
      .flatMap((u) => (u.sessionId === null ? [] : [endByConflict(u.sessionId, u.hlc)])),
  ];
};

/** A session whose secret lost to an earlier use elsewhere ends as it starts (the use of one
 * command is applied before its SessionStarted, so the session row did not exist then). */
const endIfSecretLost = (sessionId: string, read: Reader): Statement[] =>
  read
    .all(
      `SELECT u.hlc FROM secret_uses u WHERE u.session_id = ? AND EXISTS (
         SELECT 1 FROM secret_uses w WHERE w.secret = u.secret
           AND (w.hlc < u.hlc OR (w.hlc = u.hlc AND w.event_id < u.event_id)))`,
      sessionId,
    )
    .map((r) => endByConflict(sessionId, str(r, 'hlc')));

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
    `CREATE TABLE secret_uses (
      secret TEXT NOT NULL, event_id TEXT NOT NULL, hlc TEXT NOT NULL, session_id TEXT,
      PRIMARY KEY (secret, event_id)) WITHOUT ROWID`,
    'CREATE INDEX secret_uses_session ON secret_uses (session_id)',
    `CREATE TABLE auth_policies (
      scope TEXT NOT NULL, subject_id TEXT NOT NULL, require TEXT NOT NULL, elevate TEXT NOT NULL,
      hlc TEXT NOT NULL, PRIMARY KEY (scope, subject_id)) WITHOUT ROWID`,
  ],
  conflicts: [
    `SELECT 'single-use', 'secret:' || u.secret, u.event_id,
       (SELECT w.event_id FROM secret_uses w WHERE w.secret = u.secret ORDER BY w.hlc, w.event_id LIMIT 1),
       CASE WHEN u.session_id IS NULL THEN 'used twice' ELSE 'used twice: session ' || u.session_id || ' ended' END,
       u.hlc
     FROM secret_uses u WHERE EXISTS (SELECT 1 FROM secret_uses w WHERE w.secret = u.secret
       AND (w.hlc < u.hlc OR (w.hlc = u.hlc AND w.event_id < u.event_id)))`,
  ],
  handlers: {
    OtpUsed: secretUsed,
    RecoveryCodeUsed: secretUsed,
    PasskeyUsed: secretUsed,
    SessionStarted: (e, read) => {
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
        ...endIfSecretLost(d.sessionId, read),
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

// ---------------------------------------------------------------------------------------------
// Queries (issue 15 item 3): every query on these tables lives here, with typed row mappers.

type Transport = EventPayload<'SessionStarted'>['transport'];

/** A session row as the domain reads it. */
export type SessionRecord = {
  readonly id: string;
  readonly principalId: string;
  readonly transport: Transport;
  /** The earliest evidence's time (the session's start), else when it was last touched. */
  readonly startedAt: string;
  readonly expiresAt: string;
  readonly idleSeconds: number;
  readonly touchedAt: string;
  /** The identity directory the login named, if any. */
  readonly identityDirectory: string | null;
  readonly elevatedUntil: string | null;
  /** '' when never elevated. */
  readonly elevatedHlc: string;
  readonly ended: boolean;
  readonly endReason: string | null;
};

const sessionRecord = (r: SqlRow): SessionRecord => ({
  id: str(r, 'id'),
  principalId: str(r, 'principal_id'),
  transport: r.transport === 'bearer' ? 'bearer' : 'cookie',
  startedAt: String(r.started_at ?? r.touched_at),
  expiresAt: str(r, 'expires_at'),
  idleSeconds: Number(r.idle_seconds),
  touchedAt: str(r, 'touched_at'),
  identityDirectory: strOrNull(r, 'identity_directory'),
  elevatedUntil: strOrNull(r, 'elevated_until'),
  elevatedHlc: str(r, 'elevated_hlc'),
  ended: Number(r.ended) === 1,
  endReason: strOrNull(r, 'end_reason'),
});

const SESSION_COLUMNS = `s.id, s.principal_id, s.transport, s.expires_at, s.idle_seconds, s.touched_at,
  s.identity_directory, s.elevated_until, s.elevated_hlc, s.ended, s.end_reason,
  (SELECT MIN(at) FROM session_evidences e WHERE e.session_id = s.id) AS started_at`;
/** The session a token hash names: one query through `sessions_token` (every request with a
 * session cookie or bearer asks it). Whether its principal may still use it is the principals
 * read model's to say (`principalUsable`). */
export const sessionByTokenHash = (read: Reader, tokenHash: string): SessionRecord | undefined => {
  const r = read.get(`SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.token_hash = ?`, tokenHash);
  return r && sessionRecord(r);
};

/** The session with this id, whatever the state of it and its principal. */
export const getSessionRecord = (read: Reader, id: string): SessionRecord | undefined => {
  const r = read.get(`SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = ?`, id);
  return r && sessionRecord(r);
};

/** A principal's sessions not ended, newest first. */
export const unendedSessionsOf = (read: Reader, principalId: string): SessionRecord[] =>
  read
    .all(
      `SELECT ${SESSION_COLUMNS} FROM sessions s
       WHERE s.principal_id = ? AND s.ended = 0 ORDER BY s.started_hlc DESC`,
      principalId,
    )
    .map(sessionRecord);

/** Ids of the sessions of a principal not yet ended, in id order. */
export const openSessionsOf = (read: Reader, principalId: string): string[] =>
  read
    .all('SELECT id FROM sessions WHERE principal_id = ? AND ended = 0 ORDER BY id', principalId)
    .map((r) => str(r, 'id'));

export type EvidenceRecord = {
  readonly evidence: string;
  readonly method: string;
  readonly credentialId: string;
  readonly at: string;
  readonly expiresAt: string;
};

/** A session's evidences expiring after `at` (ISO 8601), by evidence, the longest-lived first. */
export const evidencesValidAt = (read: Reader, sessionId: string, at: string): EvidenceRecord[] =>
  read
    .all(
      `SELECT evidence, method, credential_id, at, expires_at FROM session_evidences
       WHERE session_id = ? AND expires_at > ? ORDER BY evidence, expires_at DESC`,
      sessionId,
      at,
    )
    .map((r) => ({
      evidence: str(r, 'evidence'),
      method: str(r, 'method'),
      credentialId: str(r, 'credential_id'),
      at: str(r, 'at'),
      expiresAt: str(r, 'expires_at'),
    }));

// Lockout

export type LockoutRecord = {
  readonly lockedUntil: string | null;
  /** HLC of the last success or unlock ('' if none): failures and lockouts after it count. */
  readonly resetHlc: string;
};

export const lockoutOf = (read: Reader, principalId: string): LockoutRecord | undefined => {
  const r = read.get(
    'SELECT locked_until, reset_hlc FROM principal_lockouts WHERE principal_id = ?',
    principalId,
  );
  return r && { lockedUntil: strOrNull(r, 'locked_until'), resetHlc: str(r, 'reset_hlc') };
};

/** Failures that count towards a lockout: a wrong secret, not attempts refused for other reasons
 * nor those of a trusted device (counted against the device). */
// A failed link ceremony (`link:…`, src/authn/external-login.ts) guessed nothing: audited only.
const COUNTED =
  "reason NOT IN ('locked', 'unknown-identity', 'inactive') AND reason NOT LIKE 'device:%' AND reason NOT LIKE 'link:%'";

const count = (r: SqlRow | undefined): number => Number(r?.n ?? 0);

/** The principal's failures after `hlc` that count towards a lockout. */
export const countedFailuresAfter = (read: Reader, principalId: string, hlc: string): number =>
  count(
    read.get(
      `SELECT COUNT(*) AS n FROM auth_failures WHERE principal_id = ? AND hlc > ? AND ${COUNTED}`,
      principalId,
      hlc,
    ),
  );

/** The principal's lockouts after `hlc`. */
export const lockoutsAfter = (read: Reader, principalId: string, hlc: string): number =>
  count(
    read.get(
      'SELECT COUNT(*) AS n FROM principal_lockout_history WHERE principal_id = ? AND hlc > ?',
      principalId,
      hlc,
    ),
  );

/** The principal's failures whose reason starts with `prefix` since its last success or unlock. */
export const failuresWithReasonSinceReset = (
  read: Reader,
  principalId: string,
  prefix: string,
): number =>
  count(
    read.get(
      `SELECT COUNT(*) AS n FROM auth_failures f
       WHERE f.principal_id = ? AND substr(f.reason, 1, ?) = ?
         AND f.hlc > coalesce((SELECT reset_hlc FROM principal_lockouts WHERE principal_id = ?), '')`,
      principalId,
      prefix.length,
      prefix,
      principalId,
    ),
  );

/** The end of the principal's lockout as recorded (past or future), or null. */
export const lockedUntilOf = (read: Reader, principalId: string): string | null => {
  const r = read.get(
    'SELECT locked_until FROM principal_lockouts WHERE principal_id = ?',
    principalId,
  );
  return r ? strOrNull(r, 'locked_until') : null;
};

// Authentication policies

export type PolicyScope = EventPayload<'AuthPolicySet'>['scope'];
export type PolicyRecord = {
  readonly scope: PolicyScope;
  readonly subjectId: string;
  readonly require: string[];
  readonly elevate: string[];
};

const policyRecord = (r: SqlRow): PolicyRecord => ({
  scope: r.scope === 'role' ? 'role' : 'principal',
  subjectId: str(r, 'subject_id'),
  require: stringList(r, 'require'),
  elevate: stringList(r, 'elevate'),
});

/** The policies that apply to a principal: its own, and those of `roleIds`, the live roles it is
 * granted (the authz read model's `rolesHeldBy`). */
export const policiesApplyingTo = (
  read: Reader,
  principalId: string,
  roleIds: readonly string[],
): PolicyRecord[] =>
  read
    .all(
      `SELECT scope, subject_id, require, elevate FROM auth_policies
       WHERE scope = 'principal' AND subject_id = ?
       UNION ALL
       SELECT scope, subject_id, require, elevate FROM auth_policies
       WHERE scope = 'role' AND subject_id IN (SELECT value FROM json_each(?))`,
      principalId,
      JSON.stringify(roleIds),
    )
    .map(policyRecord);

export const listAuthPolicies = (read: Reader): PolicyRecord[] =>
  read
    .all('SELECT scope, subject_id, require, elevate FROM auth_policies ORDER BY scope, subject_id')
    .map(policyRecord);

/** Principals with a session started at `origin` that has not ended or expired by `nowIso`:
 * whose external memberships that node keeps fresh (src/directories/refresh.ts). */
export const principalsWithOpenSessionsFrom = (
  read: Reader,
  origin: string,
  nowIso: string,
): string[] =>
  read
    .all(
      `SELECT DISTINCT principal_id FROM sessions
       WHERE origin = ? AND ended = 0 AND expires_at > ? ORDER BY principal_id`,
      origin,
      nowIso,
    )
    .map((r) => str(r, 'principal_id'));
