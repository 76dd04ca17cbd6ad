// Sessions (DESIGN.md section 7): a principal's security context with the evidences gathered so
// far, each with its own time and expiry.
// - Token: 256 random bits (`als_…`), shown to the client only; events carry its SHA-256
//   (OWASP ASVS 3.2.2, 3.5.2; NIST SP 800-63B 7.1.1). A new token at every evidence change and
//   elevation, so a token fixed before login is worth nothing after it (ASVS 3.2.1).
// - Idle and absolute timeouts (NIST SP 800-63B 7.2; ASVS 3.3.1, 3.3.2). Activity is node-local
//   (a map here); a `SessionTouched` event at most every few minutes keeps other sites roughly
//   in step, so a client that moves to another node stays signed in.
// - A session counts only while its principal is active and not deleted, whatever order the
//   events about both arrived in: the check joins the principal at every use.
// Login is multi-step: `login` starts a session with whatever the providers proved; `addEvidence`
// adds more; until the session holds what its policy requires it is incomplete (policy.ts).
import { randomBytes } from 'node:crypto';
import { INTERNAL_DIRECTORY } from '../../projections/identities.ts';
import { getPrincipal } from '../../projections/principals.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireDominates } from '../authz/conferral.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError } from '../errors.ts';
import type { DomainEvent, EventPayload } from '../events/catalogue.ts';
import type { Authority, Command, CommandMeta } from '../node/command.ts';
import type { Reader, SqlRow } from '../readmodel/projection.ts';
import type { AuthConfig } from './auth-config.ts';
import { passwordChangedHlc } from './credentials.ts';
import type {
  EvidenceContext,
  EvidenceProvider,
  PrepareContext,
  Presented,
  Proof,
} from './evidence.ts';
import { type Failure, failureEvents, isLockedOut, trustedDevice } from './lockout.ts';
import type { Argon2Params } from './passwords.ts';
import { elevationEvidences, policyOf, requiredEvidences } from './policy.ts';
import { MANAGE_PRINCIPALS } from './principals.ts';
import { allowedCredentialDirectories } from './queries.ts';
import { subnetsContaining } from './subnets.ts';
import { hashSecret } from './tokens.ts';

export const SESSION_PREFIX = 'als_';
export type Transport = EventPayload<'SessionStarted'>['transport'];
type SessionEvidence = EventPayload<'SessionStarted'>['evidences'][number];

/** A new session token; only its hash goes into events. */
export const newSessionToken = (): { token: string; hash: string } => {
  const token = `${SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashSecret(token) };
};

const iso = (ms: number): string => new Date(ms).toISOString();

// ---------------------------------------------------------------------------------------------
// Providers: prepare outside the queue, decide inside.

export type Prepared = ReadonlyMap<EvidenceProvider<unknown>, unknown>;

export type Attempt = {
  readonly principalId: string;
  readonly presented: Presented;
  readonly ip: string | undefined;
  /** See EvidenceContext: the credential directories the login's identity directory allows. */
  readonly credentialDirectories?: ReadonlySet<string> | undefined;
};

/** The credential directories a step of this session may use: those its login's identity
 * directory is tied to (undefined: any). */
export const sessionCredentialDirectories = (
  read: Reader,
  sessionId: string,
): ReadonlySet<string> | undefined => {
  const r = read.get('SELECT identity_directory FROM sessions WHERE id = ?', sessionId);
  return r?.identity_directory == null
    ? undefined
    : allowedCredentialDirectories(read, String(r.identity_directory));
};

/** Runs every provider's slow part (argon2) against committed state; a rehash uses `argon2`. */
export const prepareEvidence = async (
  providers: readonly EvidenceProvider<unknown>[],
  read: Reader,
  attempt: Attempt,
  now: number,
  argon2: Argon2Params,
): Promise<Prepared> => {
  const context: PrepareContext = { state: read, ...attempt, now, argon2 };
  const out = new Map<EvidenceProvider<unknown>, unknown>();
  for (const p of providers) if (p.prepare) out.set(p, await p.prepare(context));
  return out;
};

type Gathered = { readonly proofs: Proof[]; readonly failed: string[] };

export const gather = (
  providers: readonly EvidenceProvider<unknown>[],
  state: Reader,
  attempt: Attempt,
  prepared: Prepared,
  now: number,
): Gathered => {
  const context: EvidenceContext = { state, ...attempt, now };
  const proofs: Proof[] = [];
  const failed: string[] = [];
  for (const p of providers) {
    const outcome = p.decide(context, prepared.get(p));
    if (outcome === 'failed') failed.push(p.method);
    else if (outcome !== 'none') proofs.push(outcome);
  }
  return { proofs, failed };
};

const evidencesOf = (proofs: readonly Proof[], now: number, cap: number): SessionEvidence[] =>
  proofs.map((p) => ({
    evidence: p.evidence,
    method: p.method,
    credentialId: p.credentialId,
    at: iso(now),
    expiresAt: iso(Math.min(p.expiresAt, cap)),
  }));

// ---------------------------------------------------------------------------------------------
// Reading sessions.

export type EvidenceView = {
  readonly evidence: string;
  readonly method: string;
  readonly credentialId: string;
  readonly at: string;
  readonly expiresAt: string;
};

export type SessionView = {
  readonly sessionId: string;
  readonly principalId: string;
  readonly transport: Transport;
  readonly startedAt: string;
  readonly expiresAt: string;
  readonly lastSeenAt: string;
  /** Evidences that count now (each within its own expiry). */
  readonly evidences: EvidenceView[];
  readonly complete: boolean;
  /** What the policy requires that the session lacks. */
  readonly missing: string[];
  readonly elevatedUntil: string | null;
  readonly ended: boolean;
  readonly endReason: string | null;
};

const SESSION_COLUMNS = `s.id, s.principal_id, s.transport, s.expires_at, s.idle_seconds, s.touched_at,
  s.elevated_until, s.elevated_hlc, s.ended, s.end_reason, s.started_hlc, s.token_hlc,
  (SELECT MIN(at) FROM session_evidences e WHERE e.session_id = s.id) AS started_at`;

const liveEvidences = (read: Reader, sessionId: string, now: number): EvidenceView[] =>
  read
    .all(
      `SELECT evidence, method, credential_id, at, expires_at FROM session_evidences
       WHERE session_id = ? AND expires_at > ? ORDER BY evidence, expires_at DESC`,
      sessionId,
      iso(now),
    )
    .map((r) => ({
      evidence: String(r.evidence),
      method: String(r.method),
      credentialId: String(r.credential_id),
      at: String(r.at),
      expiresAt: String(r.expires_at),
    }));

/**
 * Where the request using a session comes from: `location` evidence counts only for a request
 * from inside a live subnet credential that proved it to this session (NIST SP 800-63B rev 4
 * section 7, session binding; OWASP ASVS 5.0 V7). An unknown address (`ip: undefined`) is
 * inside none. `AS_PROVEN` is for listings: each session with what it proved, wherever that was.
 *
 * Why the proving credential's ranges, not the address the evidence was proven from, and not any
 * subnet credential of the principal: an address within the office range changes (DHCP, NAT
 * pools) while the range is what the administrator vouched for; a principal with several subnet
 * credentials (office, data centre) takes each to its session by proving it there (a step from
 * the other network adds its location evidence), so a session proven at the office does not count
 * as located from the data centre on that proof alone.
 */
export type From = { readonly ip: string | undefined } | typeof AS_PROVEN;
export const AS_PROVEN = 'as-proven';

/** The evidences that count for a request from `ip`: `location` only where its credential holds
 * the address now. No query for a session without location evidence (most of them). */
const located = (
  read: Reader,
  proven: EvidenceView[],
  ip: string | undefined,
  now: number,
): EvidenceView[] => {
  const proving = proven.filter((e) => e.evidence === 'location').map((e) => e.credentialId);
  if (proving.length === 0) return proven;
  const inside = subnetsContaining(read, proving, ip, now);
  return proven.filter((e) => e.evidence !== 'location' || inside.has(e.credentialId));
};

const view = (
  read: Reader,
  r: SqlRow,
  now: number,
  lastSeenMs: number,
  from: From,
): SessionView => {
  const sessionId = String(r.id);
  const principalId = String(r.principal_id);
  const proven = liveEvidences(read, sessionId, now);
  const evidences = from === AS_PROVEN ? proven : located(read, proven, from.ip, now);
  const held = new Set(evidences.map((e) => e.evidence));
  const policy = policyOf(read, principalId);
  const missing = policy.require.filter((e) => !held.has(e));
  const until = r.elevated_until == null ? null : String(r.elevated_until);
  // Elevation ends at expiry and at a password change made after it. One whose policy asks for
  // `location` rests on where it was proven: it holds only for a request that is located too
  // (outside, the session is not elevated for that request; back inside, it is again).
  const elevated =
    until !== null &&
    Date.parse(until) > now &&
    String(r.elevated_hlc ?? '') > passwordChangedHlc(read, principalId) &&
    (!policy.elevate.includes('location') || held.has('location'));
  return {
    sessionId,
    principalId,
    transport: String(r.transport) as Transport,
    startedAt: String(r.started_at ?? r.touched_at),
    expiresAt: String(r.expires_at),
    lastSeenAt: iso(lastSeenMs),
    evidences,
    complete: held.size > 0 && missing.length === 0,
    missing,
    elevatedUntil: elevated ? until : null,
    ended: Number(r.ended) === 1,
    endReason: r.end_reason == null ? null : String(r.end_reason),
  };
};

/** Node-local activity: when each session was last used here (not replicated, not digested). */
export type Activity = Map<string, number>;

const lastSeen = (r: SqlRow, activity: Activity | undefined): number =>
  Math.max(Date.parse(String(r.touched_at)), activity?.get(String(r.id)) ?? 0);

/** Whether a session row is usable at `now`: not ended, within both timeouts. */
const usable = (r: SqlRow, now: number, activity: Activity | undefined): boolean =>
  Number(r.ended) === 0 &&
  Date.parse(String(r.expires_at)) > now &&
  now - lastSeen(r, activity) <= Number(r.idle_seconds) * 1000;

/** The live session a token names, or undefined (unknown, rotated away, ended, timed out, or its
 * principal inactive or deleted), as it counts for a request from `ip` (see `From`; without an
 * address, location evidence does not count). */
export const sessionByToken = (
  read: Reader,
  token: string,
  now: number,
  activity?: Activity,
  ip?: string,
): SessionView | undefined => {
  if (!token.startsWith(SESSION_PREFIX)) return undefined;
  const r = read.get(
    `SELECT ${SESSION_COLUMNS} FROM sessions s
     JOIN principals p ON p.id = s.principal_id AND p.active = 1 AND p.deleted = 0
     WHERE s.token_hash = ?`,
    hashSecret(token),
  );
  if (!r || !usable(r, now, activity)) return undefined;
  return view(read, r, now, lastSeen(r, activity), { ip });
};

/** The live session with this id (for checks on behalf of a session), or undefined; location
 * evidence counts only for a known `ip` inside its credential (routes/authz.ts says which). */
export const liveSession = (
  read: Reader,
  sessionId: string,
  now: number,
  activity?: Activity,
  ip?: string,
): SessionView | undefined => {
  const r = read.get(
    `SELECT ${SESSION_COLUMNS} FROM sessions s
     JOIN principals p ON p.id = s.principal_id AND p.active = 1 AND p.deleted = 0
     WHERE s.id = ?`,
    sessionId,
  );
  if (!r || !usable(r, now, activity)) return undefined;
  return view(read, r, now, lastSeen(r, activity), { ip });
};

/** A principal's sessions that still work, newest first, each with what it proved wherever it
 * proved it (a listing decides nothing). */
export const sessionsOf = (
  read: Reader,
  principalId: string,
  now: number,
  activity?: Activity,
): SessionView[] =>
  read
    .all(
      `SELECT ${SESSION_COLUMNS} FROM sessions s
       JOIN principals p ON p.id = s.principal_id AND p.active = 1 AND p.deleted = 0
       WHERE s.principal_id = ? AND s.ended = 0 ORDER BY s.started_hlc DESC`,
      principalId,
    )
    .filter((r) => usable(r, now, activity))
    .map((r) => view(read, r, now, lastSeen(r, activity), AS_PROVEN));

/** A session as it counts for a request from `ip` (a login step's own answer). */
export const getSession = (
  read: Reader,
  sessionId: string,
  now: number,
  ip: string | undefined,
): SessionView | undefined => {
  const r = read.get(`SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = ?`, sessionId);
  return r && view(read, r, now, Date.parse(String(r.touched_at)), { ip });
};

/** Ids of the sessions of a principal not yet ended (deactivation ends them). */
export const openSessionIds = (read: Reader, principalId: string): string[] =>
  read
    .all('SELECT id FROM sessions WHERE principal_id = ? AND ended = 0 ORDER BY id', principalId)
    .map((r) => String(r.id));

// ---------------------------------------------------------------------------------------------
// Commands.

export type AuthSettings = Pick<
  AuthConfig,
  | 'idleTimeoutS'
  | 'absoluteTimeoutS'
  | 'elevationS'
  | 'lockoutThreshold'
  | 'lockoutBaseS'
  | 'lockoutMaxS'
>;

export type StepResult =
  | { readonly ok: true; readonly session: SessionView }
  | { readonly ok: false; readonly reason: string };

const refuse = (
  state: Reader,
  failure: Failure,
  now: number,
  settings: AuthSettings,
  extra: readonly DomainEvent[] = [],
): { events: DomainEvent[]; result: StepResult } => ({
  events: [...extra, ...failureEvents(state, failure, now, settings)],
  result: { ok: false, reason: failure.reason },
});

/** Active and not deleted (every login step asks: two columns, not the principal's view). */
const principalUsable = (state: Reader, principalId: string): boolean =>
  state.get(
    'SELECT 1 AS usable FROM principals WHERE id = ? AND active = 1 AND deleted = 0',
    principalId,
  ) !== undefined;

export type LoginInput = {
  readonly sessionId: string;
  readonly tokenHash: string;
  readonly transport: Transport;
  /** The principal the identity names; null when it names nobody (the failure is recorded). */
  readonly principalId: string | null;
  /** What the client typed, for the failure record. */
  readonly identity: string;
  /** The identity directory the identity was looked up in (default: internal). */
  readonly identityDirectoryId?: string;
  /** A device that logged in to this principal before, verified by the caller (lockout.ts). */
  readonly device?: string | undefined;
  readonly presented: Presented;
  readonly ip: string | undefined;
  readonly prepared: Prepared;
  readonly providers: readonly EvidenceProvider<unknown>[];
  readonly settings: AuthSettings;
};

export const login = (input: LoginInput): Command<StepResult> => ({
  name: 'Login',
  decide(state, meta) {
    const { now } = meta;
    const base = { identity: input.identity, step: 'login' as const };
    const principalId = input.principalId;
    if (principalId === null)
      return refuse(
        state,
        { ...base, principalId: null, reason: 'unknown-identity' },
        now,
        input.settings,
      );
    if (!principalUsable(state, principalId))
      return refuse(state, { ...base, principalId, reason: 'inactive' }, now, input.settings);
    // A known device passes a lockout others caused; its failures count against it (lockout.ts).
    const device = trustedDevice(state, principalId, input.device, input.settings.lockoutThreshold);
    const locked = isLockedOut(state, principalId, now);
    if (locked && device === undefined)
      return refuse(state, { ...base, principalId, reason: 'locked' }, now, input.settings);
    const identityDirectoryId = input.identityDirectoryId ?? INTERNAL_DIRECTORY;
    const attempt = {
      principalId,
      presented: input.presented,
      ip: input.ip,
      credentialDirectories: allowedCredentialDirectories(state, identityDirectoryId),
    };
    const { proofs, failed } = gather(input.providers, state, attempt, input.prepared, now);
    if (failed.length > 0)
      return refuse(
        state,
        { ...base, principalId, device, reason: failed.join(',') },
        now,
        input.settings,
      );
    if (proofs.length === 0)
      return refuse(
        state,
        { ...base, principalId, device, reason: 'no-evidence' },
        now,
        input.settings,
      );
    const expiresAt = now + input.settings.absoluteTimeoutS * 1000;
    const started: DomainEvent = {
      type: 'SessionStarted',
      data: {
        sessionId: input.sessionId,
        principalId,
        transport: input.transport,
        tokenHash: input.tokenHash,
        expiresAt: iso(expiresAt),
        idleTimeoutSeconds: input.settings.idleTimeoutS,
        evidences: evidencesOf(proofs, now, expiresAt),
        identityDirectoryId,
        ...(locked ? { throughLockout: true as const } : {}),
      },
    };
    const events = [...proofs.flatMap((p) => p.events), started];
    return { events, result: { ok: true, session: projected(state, principalId, started, now) } };
  },
});

/** The session as it will read once `started` is applied (decide cannot read its own events). */
const projected = (
  state: Reader,
  principalId: string,
  started: Extract<DomainEvent, { type: 'SessionStarted' }>,
  now: number,
): SessionView => {
  const evidences = started.data.evidences.map((e) => ({ ...e }));
  const held = new Set<string>(evidences.map((e) => e.evidence));
  const missing = requiredEvidences(state, principalId).filter((e) => !held.has(e));
  return {
    sessionId: started.data.sessionId,
    principalId,
    transport: started.data.transport,
    startedAt: iso(now),
    expiresAt: started.data.expiresAt,
    lastSeenAt: iso(now),
    evidences,
    complete: held.size > 0 && missing.length === 0,
    missing,
    elevatedUntil: null,
    ended: false,
    endReason: null,
  };
};

export type StepInput = {
  readonly sessionId: string;
  /** The rotated token's hash. */
  readonly tokenHash: string;
  readonly presented: Presented;
  readonly ip: string | undefined;
  readonly prepared: Prepared;
  readonly providers: readonly EvidenceProvider<unknown>[];
  readonly settings: AuthSettings;
  /** A device that logged in to this principal before, verified by the caller (lockout.ts). */
  readonly device?: string | undefined;
};

export const ownLiveSession = (
  state: Reader,
  meta: CommandMeta,
  sessionId: string,
  now: number,
) => {
  const r = state.get(
    'SELECT principal_id, ended, expires_at FROM sessions WHERE id = ?',
    sessionId,
  );
  if (
    !r ||
    String(r.principal_id) !== meta.actor ||
    Number(r.ended) === 1 ||
    Date.parse(String(r.expires_at)) <= now ||
    !principalUsable(state, meta.actor)
  )
    throw new AppError('UNAUTHENTICATED', 'the session has ended');
  return String(r.principal_id);
};

/**
 * What adding evidence and elevating share: the caller's own live session, not locked out, and
 * the providers' proofs under the session's credential-directory tie — or the refusal (recorded
 * as a failure, counting towards lockout).
 */
const sessionStep = (
  state: Reader,
  meta: CommandMeta,
  input: StepInput,
  kind: 'evidence' | 'elevate',
):
  | { readonly refused: { events: DomainEvent[]; result: StepResult } }
  | { readonly principalId: string; readonly base: Failure; readonly proofs: Proof[] } => {
  const { now } = meta;
  const principalId = ownLiveSession(state, meta, input.sessionId, now);
  // A known device elevates through a lockout others caused (lockout.ts).
  const device = trustedDevice(state, principalId, input.device, input.settings.lockoutThreshold);
  const base = { principalId, identity: principalId, step: kind, reason: '', device };
  const refused = (reason: string) => ({
    refused: refuse(state, { ...base, reason }, now, input.settings),
  });
  if (device === undefined && isLockedOut(state, principalId, now)) return refused('locked');
  const attempt = {
    principalId,
    presented: input.presented,
    ip: input.ip,
    credentialDirectories: sessionCredentialDirectories(state, input.sessionId),
  };
  const { proofs, failed } = gather(input.providers, state, attempt, input.prepared, now);
  if (failed.length > 0) return refused(failed.join(','));
  return { principalId, base, proofs };
};

/** Multi-step login: more evidence for the caller's own session (e.g. an OTP after the password). */
export const addEvidence = (input: StepInput): Command<StepResult> => ({
  name: 'AddSessionEvidence',
  decide(state, meta) {
    const { now } = meta;
    const step = sessionStep(state, meta, input, 'evidence');
    if ('refused' in step) return step.refused;
    const { principalId, base, proofs } = step;
    if (proofs.length === 0)
      return refuse(state, { ...base, reason: 'no-evidence' }, now, input.settings);
    const row = state.get('SELECT expires_at FROM sessions WHERE id = ?', input.sessionId);
    const cap = Date.parse(String(row?.expires_at));
    const added: DomainEvent = {
      type: 'SessionEvidenceAdded',
      data: {
        sessionId: input.sessionId,
        tokenHash: input.tokenHash,
        evidences: evidencesOf(proofs, now, cap),
      },
    };
    const session = getSession(state, input.sessionId, now, input.ip);
    if (!session) throw new AppError('SESSION_NOT_FOUND', 'no such session');
    const evidences = [...session.evidences, ...(added.data.evidences as EvidenceView[])];
    const held = new Set(evidences.map((e) => e.evidence));
    const missing = requiredEvidences(state, principalId).filter((e) => !held.has(e));
    return {
      events: [...proofs.flatMap((p) => p.events), added],
      result: {
        ok: true,
        session: {
          ...session,
          evidences,
          missing,
          complete: held.size > 0 && missing.length === 0,
        },
      },
    };
  },
});

/** Sudo mode: re-present what the policy asks (default: the password), from where it asks. */
export const elevate = (input: StepInput): Command<StepResult> => ({
  name: 'ElevateSession',
  decide(state, meta) {
    const { now } = meta;
    const step = sessionStep(state, meta, input, 'elevate');
    if ('refused' in step) return step.refused;
    const { principalId, base, proofs } = step;
    const proven = new Set<string>(proofs.map((p) => p.evidence));
    const lacking = elevationEvidences(state, principalId).filter((e) => !proven.has(e));
    if (lacking.length > 0 || proofs.length === 0)
      return refuse(
        state,
        { ...base, reason: `elevation-lacks:${lacking.join(',')}` },
        now,
        input.settings,
      );
    const row = state.get('SELECT expires_at FROM sessions WHERE id = ?', input.sessionId);
    const cap = Date.parse(String(row?.expires_at));
    const until = Math.min(now + input.settings.elevationS * 1000, cap);
    const events: DomainEvent[] = [
      ...proofs.flatMap((p) => p.events),
      {
        type: 'SessionElevated',
        data: {
          sessionId: input.sessionId,
          tokenHash: input.tokenHash,
          until: iso(until),
          evidences: evidencesOf(proofs, now, cap),
        },
      },
    ];
    const session = getSession(state, input.sessionId, now, input.ip);
    if (!session) throw new AppError('SESSION_NOT_FOUND', 'no such session');
    return { events, result: { ok: true, session: { ...session, elevatedUntil: iso(until) } } };
  },
});

type EndReason = EventPayload<'SessionEnded'>['reason'];

/** Ending someone else's session is an administrator's force log-off: privilege and elevation. */
const mayEnd = (state: Reader, meta: CommandMeta, principalId: string): Authority => {
  if (meta.actor === principalId) return [];
  const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
  requireElevation(meta);
  // Logging someone off at will is a lock-out: only of principals the actor could act as.
  return [...manage, ...requireDominates(state, meta, principalId)];
};

export const endSession = (input: {
  sessionId: string;
  reason?: EndReason;
}): Command<{ ended: boolean }> => ({
  name: 'EndSession',
  decide(state, meta) {
    const r = state.get('SELECT principal_id, ended FROM sessions WHERE id = ?', input.sessionId);
    if (!r) throw new AppError('SESSION_NOT_FOUND', `no session ${input.sessionId}`);
    const principalId = String(r.principal_id);
    // Someone else's session is not even confirmed to exist without the privilege.
    let authority: Authority = [];
    if (meta.actor !== principalId) {
      try {
        authority = mayEnd(state, meta, principalId);
      } catch (err) {
        if (err instanceof AppError && err.code === 'FORBIDDEN')
          throw new AppError('SESSION_NOT_FOUND', `no session ${input.sessionId}`);
        throw err;
      }
    }
    if (Number(r.ended) === 1) return { events: [], result: { ended: true } };
    const reason = input.reason ?? (meta.actor === principalId ? 'logout' : 'revoked');
    return {
      events: [{ type: 'SessionEnded', data: { sessionId: input.sessionId, reason } }],
      result: { ended: true },
      authority,
    };
  },
});

export const endSessionsOf = (input: {
  principalId: string;
  exceptSessionId?: string;
  reason?: EndReason;
}): Command<{ ended: number }> => ({
  name: 'EndSessions',
  decide(state, meta) {
    const p = getPrincipal(state, input.principalId);
    if (!p) throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${input.principalId}`);
    const authority = mayEnd(state, meta, p.id);
    const reason = input.reason ?? (meta.actor === p.id ? 'logout' : 'revoked');
    const ids = openSessionIds(state, p.id).filter((id) => id !== input.exceptSessionId);
    return {
      events: ids.map(
        (sessionId) => ({ type: 'SessionEnded', data: { sessionId, reason } }) as const,
      ),
      result: { ended: ids.length },
      authority,
    };
  },
});

/** Records activity for other sites, at most every `touchIntervalS` (the caller rate-limits). */
export const touchSession = (input: {
  sessionId: string;
  at: number;
}): Command<{ touched: boolean }> => ({
  name: 'TouchSession',
  decide(state) {
    const r = state.get('SELECT ended, touched_at FROM sessions WHERE id = ?', input.sessionId);
    if (!r || Number(r.ended) === 1 || Date.parse(String(r.touched_at)) >= input.at)
      return { events: [], result: { touched: false } };
    return {
      events: [{ type: 'SessionTouched', data: { sessionId: input.sessionId, at: iso(input.at) } }],
      result: { touched: true },
    };
  },
});
