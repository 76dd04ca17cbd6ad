// The throttle keys of every way to authenticate, and the fixed windows that count them
// (docs/http.md "One throttle for every way to authenticate"). Buckets:
//   address:<client>   every attempt from one client (IPv4 address, IPv6 /64)
//   account:<id>       attempts naming one account, from anywhere: the principal id, or
//                      `<directory>:<identity key>` when the identity names nobody
//   device:<id>:<dev>  attempts from a known device, instead of the account's bucket, so guessing
//                      from elsewhere cannot throttle the owner (OWASP "Slow Down Online Guessing
//                      Attacks with Device Cookies")
//   token:<client>     codes and tokens that resolved to nothing
//   mail:<key>         registration and reset requests naming one address or identity
// NIST SP 800-63B rev 4 3.2.2: the lockout (lockout.ts) bounds consecutive failures, these the rate.
import { INTERNAL_DIRECTORY } from '../../../projections/identities.ts';
import { AppError } from '../../errors.ts';
import { identityName } from '../../events/normalize.ts';
import { clientKey } from '../net.ts';
import type { Throttle } from './ports.ts';

/** `address:<client>`: the client's bucket shared by every authentication route. */
export const addressKey = (ip: string | undefined): string => `address:${clientKey(ip)}`;

/** `token:<client>`: the client's failed bearer and session tokens and codes. */
export const tokenKey = (ip: string | undefined): string => `token:${clientKey(ip)}`;

/** The per-account key of an identity that names nobody (`<directory>:<identity key>`). */
export const unknownAccount = (
  identity: string,
  directoryId: string = INTERNAL_DIRECTORY,
): string => {
  try {
    return `${directoryId}:${identityName('identity', identity).key}`;
  } catch {
    // An impossible name is just an unknown one.
    return `${directoryId}:${identity.slice(0, 256)}`;
  }
};

/** The bucket an attempt on an account takes: its device's when it comes from a known one, else
 * the account's (the principal, or the identity that names nobody). */
export const attemptKey = (
  account: { principalId: string } | { identity: string; directoryId?: string },
  device?: string,
): string => {
  if ('principalId' in account)
    return device === undefined
      ? `account:${account.principalId}`
      : `device:${account.principalId}:${device}`;
  return `account:${unknownAccount(account.identity, account.directoryId)}`;
};

/** Codes (reset, verification) are guessed like tokens: a client whose `token:` bucket is full
 * gets 429 before its code is looked up, and one that resolves to nothing counts. */
export const guardCode = async <R>(
  throttle: Throttle,
  ip: string | undefined,
  work: () => Promise<R> | R,
): Promise<R> => {
  const keys = [tokenKey(ip)];
  throttle.check(keys);
  try {
    return await work();
  } catch (err) {
    if (err instanceof AppError && err.code === 'TOKEN_INVALID') throttle.fail(keys);
    throw err;
  }
};

export type Window = { readonly max: number; readonly windowMs: number };

/** Keys kept at most; past it, finished windows go first, then the oldest. */
const MAX_KEYS = 100_000;

/** Fixed windows per key, in memory (per node). */
export const attemptCounter = (limit: Window, clock: () => number = Date.now) => {
  const windows = new Map<string, { n: number; start: number }>();
  const live = (key: string, now: number) => {
    const w = windows.get(key);
    return w && now - w.start < limit.windowMs ? w : undefined;
  };
  const prune = (now: number) => {
    if (windows.size < MAX_KEYS) return;
    for (const [key, w] of windows) if (now - w.start >= limit.windowMs) windows.delete(key);
    for (const key of windows.keys()) {
      if (windows.size < MAX_KEYS) break;
      windows.delete(key);
    }
  };
  /** The wait until every full bucket among `keys` has room, or 0. */
  const waitMs = (keys: readonly string[], now: number): number => {
    let wait = 0;
    for (const key of keys) {
      const w = live(key, now);
      if (w && w.n >= limit.max) wait = Math.max(wait, w.start + limit.windowMs - now);
    }
    return wait;
  };
  const add = (keys: readonly string[], by: number, now: number) => {
    for (const key of new Set(keys)) {
      const w = live(key, now);
      if (w) w.n = Math.max(0, w.n + by);
      else if (by > 0) {
        prune(now);
        windows.set(key, { n: by, start: now });
      }
    }
  };
  return { waitMs, add, now: clock };
};

export const tooMany = (ttlMs: number): AppError => {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  return new AppError('RATE_LIMITED', `too many requests; retry in ${seconds}s`, {
    retryAfterSeconds: seconds,
  });
};

/** A throttle over fixed windows in memory; `refused` hears of every refusal (logs). */
export const memoryThrottle = (
  limit: Window,
  clock: () => number = Date.now,
  refused?: (keys: readonly string[]) => void,
): Throttle & { full(keys: readonly string[]): boolean } => {
  const counter = attemptCounter(limit, clock);
  const check = (keys: readonly string[]) => {
    const wait = counter.waitMs(keys, counter.now());
    if (wait === 0) return;
    refused?.(keys);
    throw tooMany(wait);
  };
  return {
    take(keys) {
      check(keys);
      counter.add(keys, 1, counter.now());
      let given = false;
      return () => {
        if (given) return;
        given = true;
        counter.add(keys, -1, counter.now());
      };
    },
    check,
    full: (keys) => counter.waitMs(keys, counter.now()) > 0,
    fail: (keys) => counter.add(keys, 1, counter.now()),
  };
};
