// Throttling of guesses per account (OWASP ASVS 2.2.1; NIST SP 800-63B 5.2.2): every failed
// attempt is an `AuthenticationFailed` event; after `lockoutThreshold` consecutive failures the
// principal is locked out (`PrincipalLockedOut`, replicated like everything else) for a
// duration that doubles with each lockout since the last success or unlock (growing delays for
// guessing that goes on; a user who got in, or was let in, starts again at the base duration),
// until it expires or an administrator unlocks it. A success resets the failure count too.
// While locked, even the right password is refused — from an unknown client.
// Per-address limits are at the HTTP edge (rate-limit.ts; IPv6 by /64).
//
// Known devices (OWASP "Slow Down Online Guessing Attacks with Device Cookies"; NIST SP 800-63B
// rev 4 3.2.2; ASVS 5.0 6.1.1, 6.3.1): an attacker without the password must not keep the owner
// out. The HTTP edge verifies the device a client presents (src/http/devices.ts: a signed device
// token from an earlier login, or for Basic an address it succeeded from) and passes its id in.
// - The lockout stays one replicated fact (`PrincipalLockedOut`, a restrictive register, so it
//   converges as before); what changes is who it stops: a trusted device passes it.
// - A failure from a trusted device is recorded as `device:<id>:<method>` and counts against that
//   device only, never towards the principal's lockout. A device with `lockoutThreshold` failures
//   since the principal's last reset is trusted no more: from then on it is an unknown client,
//   its failures count towards the lockout and the lockout stops it. Failures are a grow-only set
//   of events, so every site counts the same. The bound: `lockoutThreshold` guesses per device
//   (and a device comes only from a successful login) on top of those of unknown clients.
// - A success through the lockout (a trusted device while the principal is locked) does not
//   reset the count of failures from elsewhere: `SessionStarted` says `throughLockout`, Basic
//   writes no `AuthenticationSucceeded`; otherwise a busy application would reset the doubling
//   for whoever is guessing. Unknown clients' failures while locked are still recorded (reason
//   `locked`): the audit trail shows every attempt on a locked account.

import { getPrincipal } from '../../projections/principals.ts';
import {
  countedFailuresAfter,
  failuresWithReasonSinceReset,
  lockedUntilOf,
  lockoutOf,
  lockoutsAfter,
} from '../../projections/sessions.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireDominates } from '../authz/conferral.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError } from '../errors.ts';
import type { DomainEvent } from '../events/catalogue.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import type { AuthConfig } from './auth-config.ts';
import { MANAGE_PRINCIPALS } from './principals.ts';

/** The recorded reason of a trusted device's failure. */
export const deviceReason = (device: string, reason: string): string =>
  `device:${device}:${reason}`;

export type LockoutView = {
  readonly lockedUntil: string | null;
  readonly failures: number;
  /** Lockouts since the last success or unlock. */
  readonly lockouts: number;
};

/** The lockout's end when it lies after `now`, else null. */
const lockedUntil = (until: string | null | undefined, now: number): string | null =>
  until != null && Date.parse(until) > now ? until : null;

export const lockoutState = (read: Reader, principalId: string, now: number): LockoutView => {
  const row = lockoutOf(read, principalId);
  const since = row?.resetHlc ?? '';
  return {
    lockedUntil: lockedUntil(row?.lockedUntil, now),
    failures: countedFailuresAfter(read, principalId, since),
    lockouts: lockoutsAfter(read, principalId, since),
  };
};

/** A trusted device's failures since the principal's last success or unlock. */
export const deviceFailures = (read: Reader, principalId: string, device: string): number =>
  failuresWithReasonSinceReset(read, principalId, deviceReason(device, ''));

/**
 * The device an attempt counts against: `device` (verified by the caller) while it has fewer
 * than `threshold` failures of its own, else undefined (an unknown client from now on).
 */
export const trustedDevice = (
  read: Reader,
  principalId: string,
  device: string | undefined,
  threshold: number,
): string | undefined =>
  device !== undefined && deviceFailures(read, principalId, device) < threshold
    ? device
    : undefined;

/** Every login step asks this: the lockout row alone, without counting failures. */
export const isLockedOut = (read: Reader, principalId: string, now: number): boolean =>
  lockedUntil(lockedUntilOf(read, principalId), now) !== null;

export type Failure = {
  readonly principalId: string | null;
  /** `password`, `otp`, … (the method that failed), `unknown-identity`, `locked`, `inactive`, … */
  readonly reason: string;
  readonly step: 'login' | 'evidence' | 'elevate' | 'basic' | 'password-change';
  /** What the client typed as its identity (personal data: in `pii`). */
  readonly identity: string;
  /** A trusted device's id (trustedDevice): the failure counts against it, not the principal. */
  readonly device?: string | undefined;
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
        reason: (failure.device === undefined
          ? failure.reason
          : deviceReason(failure.device, failure.reason)
        ).slice(0, 50),
        step: failure.step,
        pii: { identity: failure.identity.slice(0, 256) },
      },
    },
  ];
  if (
    failure.principalId === null ||
    failure.device !== undefined ||
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
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    requireElevation(meta);
    const p = getPrincipal(state, input.principalId);
    if (!p) throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${input.principalId}`);
    const authority = [...manage, ...requireDominates(state, meta, p.id)];
    const s = lockoutState(state, p.id, meta.now);
    if (s.lockedUntil === null && s.failures === 0)
      return { events: [], result: { unlocked: false } };
    return {
      events: [{ type: 'PrincipalUnlocked', data: { principalId: p.id } }],
      result: { unlocked: true },
      authority,
    };
  },
});
