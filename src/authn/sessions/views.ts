// Reading sessions (DESIGN.md section 7): a principal's security context with the evidences
// gathered so far, each with its own time and expiry.
// - Idle and absolute timeouts (NIST SP 800-63B 7.2; ASVS 3.3.1, 3.3.2). Activity is node-local
//   (a map here); a `SessionTouched` event at most every few minutes keeps other sites roughly
//   in step, so a client that moves to another node stays signed in.
// - A session counts only while its principal is active and not deleted, whatever order the
//   events about both arrived in: the check joins the principal at every use.
// - Until a session holds what its policy requires it is incomplete (policy.ts).
import type { Reader, SqlRow } from '../../readmodel/projection.ts';
import { passwordChangedHlc } from '../credentials.ts';
import { policyOf } from '../policy.ts';
import { subnetsContaining } from '../subnets.ts';
import { hashSecret } from '../tokens.ts';
import { SESSION_PREFIX, type Transport } from './token.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

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
