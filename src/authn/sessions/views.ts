// Reading sessions (DESIGN.md section 7): a principal's security context with the evidences
// gathered so far, each with its own time and expiry.
// - Idle and absolute timeouts (NIST SP 800-63B 7.2; ASVS 3.3.1, 3.3.2). Activity is node-local
//   (a map here); a `SessionTouched` event at most every few minutes keeps other sites roughly
//   in step, so a client that moves to another node stays signed in.
// - A session counts only while its principal is active and not deleted, whatever order the
//   events about both arrived in: the check joins the principal at every use.
// - Until a session holds what its policy requires it is incomplete (policy.ts).
import { principalUsable } from '../../../projections/principals.ts';
import {
  type EvidenceRecord,
  evidencesValidAt,
  getSessionRecord,
  type SessionRecord,
  sessionByTokenHash,
  unendedSessionsOf,
} from '../../../projections/sessions.ts';
import type { Reader } from '../../readmodel/projection.ts';
import { passwordChangedHlc } from '../credentials.ts';
import { policyOf } from '../policy.ts';
import { subnetsContaining } from '../subnets.ts';
import { hashSecret } from '../tokens.ts';
import { SESSION_PREFIX, type Transport } from './token.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

export type EvidenceView = EvidenceRecord;

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
  r: SessionRecord,
  now: number,
  lastSeenMs: number,
  from: From,
): SessionView => {
  const { principalId, elevatedUntil: until } = r;
  const proven = evidencesValidAt(read, r.id, iso(now));
  const evidences = from === AS_PROVEN ? proven : located(read, proven, from.ip, now);
  const held = new Set(evidences.map((e) => e.evidence));
  const policy = policyOf(read, principalId);
  const missing = policy.require.filter((e) => !held.has(e));
  // Elevation ends at expiry and at a password change made after it. One whose policy asks for
  // `location` rests on where it was proven: it holds only for a request that is located too
  // (outside, the session is not elevated for that request; back inside, it is again).
  const elevated =
    until !== null &&
    Date.parse(until) > now &&
    r.elevatedHlc > passwordChangedHlc(read, principalId) &&
    (!policy.elevate.includes('location') || held.has('location'));
  return {
    sessionId: r.id,
    principalId,
    transport: r.transport,
    startedAt: r.startedAt,
    expiresAt: r.expiresAt,
    lastSeenAt: iso(lastSeenMs),
    evidences,
    complete: held.size > 0 && missing.length === 0,
    missing,
    elevatedUntil: elevated ? until : null,
    ended: r.ended,
    endReason: r.endReason,
  };
};

/** Node-local activity: when each session was last used here (not replicated, not digested). */
export type Activity = Map<string, number>;

const lastSeen = (r: SessionRecord, activity: Activity | undefined): number =>
  Math.max(Date.parse(r.touchedAt), activity?.get(r.id) ?? 0);

/** Whether a session is usable at `now`: not ended, within both timeouts. */
const usable = (r: SessionRecord, now: number, activity: Activity | undefined): boolean =>
  !r.ended && Date.parse(r.expiresAt) > now && now - lastSeen(r, activity) <= r.idleSeconds * 1000;

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
  const r = sessionByTokenHash(read, hashSecret(token));
  if (!r || !usable(r, now, activity) || !principalUsable(read, r.principalId)) return undefined;
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
  const r = getSessionRecord(read, sessionId);
  if (!r || !usable(r, now, activity) || !principalUsable(read, r.principalId)) return undefined;
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
  (principalUsable(read, principalId) ? unendedSessionsOf(read, principalId) : [])
    .filter((r) => usable(r, now, activity))
    .map((r) => view(read, r, now, lastSeen(r, activity), AS_PROVEN));

/** A session as it counts for a request from `ip` (a login step's own answer). */
export const getSession = (
  read: Reader,
  sessionId: string,
  now: number,
  ip: string | undefined,
): SessionView | undefined => {
  const r = getSessionRecord(read, sessionId);
  return r && view(read, r, now, Date.parse(r.touchedAt), { ip });
};
