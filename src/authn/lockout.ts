// Throttling of guesses per account (OWASP ASVS 2.2.1; NIST SP 800-63B 5.2.2): every failed
// attempt is an `AuthenticationFailed` event; after `lockoutThreshold` consecutive failures the
// principal is locked out (`PrincipalLockedOut`, replicated like everything else) for a
// duration that doubles with each lockout since the last success or unlock (growing delays for
// guessing that goes on; a user who got in, or was let in, starts again at the base duration),
// until it expires or an administrator unlocks it. A success resets the failure count too.
// While locked, even the right password is refused.
// Per-address limits are at the HTTP edge (rate-limit.ts; IPv6 by /64).
import { requirePrivilege } from '../authz/admin.ts';
import { AppError } from '../errors.ts';
import type { DomainEvent } from '../events/catalogue.ts';
import type { Command } from '../node/command.ts';
import type { Reader, SqlRow } from '../readmodel/projection.ts';
import type { AuthConfig } from './auth-config.ts';
import { requireElevation } from './elevation.ts';
import { MANAGE_PRINCIPALS } from './principals.ts';
import { getPrincipal } from './queries.ts';

/** Failures that count towards a lockout: a wrong secret, not attempts refused for other reasons. */
const NOT_COUNTED = "('locked', 'unknown-identity', 'inactive')";

export type LockoutView = {
  readonly lockedUntil: string | null;
  readonly failures: number;
  /** Lockouts since the last success or unlock. */
  readonly lockouts: number;
};

/** The lockout's end when it lies after `now`, else null. */
const lockedUntil = (row: SqlRow | undefined, now: number): string | null => {
  const until = row?.locked_until == null ? null : String(row.locked_until);
  return until !== null && Date.parse(until) > now ? until : null;
};

export const lockoutState = (read: Reader, principalId: string, now: number): LockoutView => {
  const row = read.get(
    'SELECT locked_until, reset_hlc FROM principal_lockouts WHERE principal_id = ?',
    principalId,
  );
  const since = String(row?.reset_hlc ?? '');
  const failures = read.get(
    `SELECT COUNT(*) AS n FROM auth_failures WHERE principal_id = ? AND hlc > ? AND reason NOT IN ${NOT_COUNTED}`,
    principalId,
    since,
  );
  const lockouts = read.get(
    'SELECT COUNT(*) AS n FROM principal_lockout_history WHERE principal_id = ? AND hlc > ?',
    principalId,
    since,
  );
  return {
    lockedUntil: lockedUntil(row, now),
    failures: Number(failures?.n ?? 0),
    lockouts: Number(lockouts?.n ?? 0),
  };
};

/** Every login step asks this: the lockout row alone, without counting failures. */
export const isLockedOut = (read: Reader, principalId: string, now: number): boolean =>
  lockedUntil(
    read.get('SELECT locked_until FROM principal_lockouts WHERE principal_id = ?', principalId),
    now,
  ) !== null;

export type Failure = {
  readonly principalId: string | null;
  /** `password`, `otp`, … (the method that failed), `unknown-identity`, `locked`, `inactive`, … */
  readonly reason: string;
  readonly step: 'login' | 'evidence' | 'elevate' | 'basic' | 'password-change';
  /** What the client typed as its identity (personal data: in `pii`). */
  readonly identity: string;
};

/** The events of a failed attempt: the failure, and a lockout when it is one too many. */
export const failureEvents = (
  state: Reader,
  failure: Failure,
  now: number,
  config: Pick<AuthConfig, 'lockoutThreshold' | 'lockoutBaseS' | 'lockoutMaxS'>,
): DomainEvent[] => {
  const events: DomainEvent[] = [
    {
      type: 'AuthenticationFailed',
      data: {
        principalId: failure.principalId,
        reason: failure.reason.slice(0, 50),
        step: failure.step,
        pii: { identity: failure.identity.slice(0, 256) },
      },
    },
  ];
  if (
    failure.principalId === null ||
    ['locked', 'unknown-identity', 'inactive'].includes(failure.reason)
  )
    return events;
  const s = lockoutState(state, failure.principalId, now);
  const failures = s.failures + 1;
  if (failures >= config.lockoutThreshold && s.lockedUntil === null) {
    const seconds = Math.min(
      config.lockoutBaseS * 2 ** Math.min(s.lockouts, 20),
      config.lockoutMaxS,
    );
    events.push({
      type: 'PrincipalLockedOut',
      data: {
        principalId: failure.principalId,
        until: new Date(now + seconds * 1000).toISOString(),
        failures,
      },
    });
  }
  return events;
};

/** A command that only records a failure (unknown identity, malformed attempt). */
export const recordFailure = (
  failure: Failure,
  config: Pick<AuthConfig, 'lockoutThreshold' | 'lockoutBaseS' | 'lockoutMaxS'>,
): Command<{ recorded: true }> => ({
  name: 'RecordAuthenticationFailure',
  decide: (state, meta) => ({
    events: failureEvents(state, failure, meta.now, config),
    result: { recorded: true },
  }),
});

export const unlockPrincipal = (input: {
  principalId: string;
}): Command<{ unlocked: boolean }> => ({
  name: 'UnlockPrincipal',
  decide(state, meta) {
    requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    requireElevation(meta);
    const p = getPrincipal(state, input.principalId);
    if (!p) throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${input.principalId}`);
    const s = lockoutState(state, p.id, meta.now);
    if (s.lockedUntil === null && s.failures === 0)
      return { events: [], result: { unlocked: false } };
    return {
      events: [{ type: 'PrincipalUnlocked', data: { principalId: p.id } }],
      result: { unlocked: true },
    };
  },
});
