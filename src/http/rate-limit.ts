// Rate limits (DESIGN.md section 10; OWASP ASVS 2.2.1, 11.1.4): one global limit on every route
// and one authentication throttle, per client address (IPv4 by address, IPv6 by /64) and per
// account. The client address is the one `trustProxy` resolved, so a spoofed X-Forwarded-For from
// an untrusted peer cannot move a client into a fresh bucket.
//
// The authentication throttle is ONE mechanism for every way to authenticate (issue 14): login,
// OTP steps, elevation and password change (`countAuthAttempt`), `Authorization: Basic`, bearer
// and session tokens that do not resolve, reset and verification codes. Each takes an attempt
// from its buckets BEFORE any expensive work (argon2, an fsynced event), so the work an attacker
// can cause is bounded by the buckets, not by how fast it sends. Buckets, each `authRateLimit`
// (default 20 per minute):
//   address:<client>   every request to an authentication route, and Basic from an unknown client
//   account:<id>       attempts naming one account, from anywhere (the principal id, or the
//                      directory and identity key when the identity names nobody)
//   device:<id>:<dev>  attempts from a device that logged in to that account before (devices.ts):
//                      instead of the account's bucket, so guessing from elsewhere cannot throttle
//                      the owner (OWASP "Slow Down Online Guessing Attacks with Device Cookies")
//   token:<client>     bearer or session tokens that resolve to nothing (failures only)
// NIST SP 800-63B rev 4 3.2.2 asks for at most 100 consecutive failed attempts on an account;
// the lockout (src/authn/lockout.ts) enforces that, these buckets bound the rate.
//
// @fastify/rate-limit keeps the global limit. It counts requests; the throttle needs attempts
// taken from several buckets at once (all or none), given back when a known device succeeds, and
// a look without counting (a guessed token must not be looked up once its client is over): a
// fixed window per key, as the plugin's local store keeps it, with those three operations
// (src/authn/flows/throttle.ts: the keys and windows are domain code, the flows take them).
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Throttle } from '../authn/flows/ports.ts';
import { addressKey, memoryThrottle, tokenKey } from '../authn/flows/throttle.ts';
import { clientKey } from '../authn/net.ts';
import { AppError } from '../errors.ts';
import type { RateLimit } from './edge-config.ts';
import { hooksOf } from './headers.ts';
import { clientIp } from './proxy.ts';

/** The authentication throttle (see the head of this file): the domain's `Throttle`
 * (src/authn/flows/ports.ts) with the request each call is for, whose log hears of refusals. */
export type AuthThrottle = {
  /**
   * Takes one attempt from every bucket in `keys`, all or none; throws RATE_LIMITED (with
   * Retry-After) when one of them is full. Returns what gives them back (a known device's success).
   */
  take(request: FastifyRequest, keys: readonly string[]): () => void;
  /** Throws RATE_LIMITED when one of the buckets is full; counts nothing. */
  check(request: FastifyRequest, keys: readonly string[]): void;
  /** Whether one of the buckets is full, without throwing or counting. */
  full(keys: readonly string[]): boolean;
  /** Counts a failure found after the fact (a token that resolved to nothing). */
  fail(keys: readonly string[]): void;
  /** `address:<client>`: the client's bucket shared by every authentication route. */
  addressKey(request: FastifyRequest): string;
  /** `token:<client>`: the client's failed bearer and session tokens. */
  tokenKey(request: FastifyRequest): string;
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Counts the request against the shared authentication limit too (see authRouteConfig). */
    authRateLimit?: boolean;
  }
  interface FastifyInstance {
    /**
     * Counts one authentication attempt under `key` (e.g. `account:<principal id>`) against the
     * authentication limit; throws RATE_LIMITED when over. For per-account limits, which need
     * the body and so cannot run before it is parsed.
     */
    countAuthAttempt(request: FastifyRequest, reply: FastifyReply, key: string): Promise<void>;
    authThrottle: AuthThrottle;
  }
}

/** The throttle a flow takes (src/authn/flows/), for one request. */
export const throttleOf = (request: FastifyRequest): Throttle => {
  const throttle = request.server.authThrottle;
  return {
    take: (keys) => throttle.take(request, keys),
    check: (keys) => throttle.check(request, keys),
    fail: (keys) => throttle.fail(keys),
  };
};

const keyOf = (request: FastifyRequest): string => clientKey(clientIp(request));

/** Requests of replication peers: their own bucket per principal, with its own limit. */
export type ReplicationLimit = {
  readonly limit: RateLimit;
  /** The peer principal a request authenticates as, or undefined for anyone else. */
  readonly principal: (request: FastifyRequest) => string | undefined;
};

const REPLICATOR = 'replicator:';

export const registerRateLimits = (
  app: FastifyInstance,
  limits: { global: RateLimit; auth: RateLimit; replication?: ReplicationLimit },
): void => {
  const { replication } = limits;
  // Client keys are addresses, so they never start with REPLICATOR.
  const limitOf = (key: string) =>
    replication && key.startsWith(REPLICATOR) ? replication.limit : limits.global;
  app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: (_request, key) => limitOf(key).max,
    timeWindow: (_request, key) => limitOf(key).windowMs,
    keyGenerator: (request) => {
      const peer = replication?.principal(request);
      return peer === undefined ? keyOf(request) : `${REPLICATOR}${peer}`;
    },
    // No X-RateLimit-* headers on answers within the limit: three more headers to validate and
    // write on every answer, for what no client of ours reads. A refusal still says when to
    // come back (Retry-After, RFC 6585 4).
    addHeadersOnExceeding: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
    },
    errorResponseBuilder: (request, context) => {
      request.log.warn({ key: keyOf(request) }, 'rate limit exceeded');
      return new AppError('RATE_LIMITED', `too many requests; retry in ${context.after}`, {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      });
    },
  });

  // One bucket per address for every authentication route: spreading guesses over login, OTP,
  // elevation, codes and Basic gains nothing.
  const counter = memoryThrottle(limits.auth);
  const logged = <R>(request: FastifyRequest, keys: readonly string[], f: () => R): R => {
    try {
      return f();
    } catch (err) {
      request.log.warn({ keys }, 'authentication rate limit exceeded');
      throw err;
    }
  };
  const throttle: AuthThrottle = {
    take: (request, keys) => logged(request, keys, () => counter.take(keys)),
    check: (request, keys) => logged(request, keys, () => counter.check(keys)),
    full: counter.full,
    fail: counter.fail,
    addressKey: (request) => addressKey(clientIp(request)),
    tokenKey: (request) => tokenKey(clientIp(request)),
  };
  app.decorate('authThrottle', throttle);
  app.decorate(
    'countAuthAttempt',
    async (request: FastifyRequest, _reply: FastifyReply, key: string): Promise<void> => {
      throttle.take(request, [key]);
    },
  );
  // Requests for unknown paths (probing, token guessing against any /v1 path) count against the
  // global limit, in the same bucket as the client's other requests.
  // Callback hooks: most requests pass both at once, without a promise each.
  let notFound: ReturnType<FastifyInstance['rateLimit']> | undefined;
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.is404) return done();
    notFound ??= app.rateLimit();
    notFound.call(app, request, reply).then(() => done(), done);
  });
  // The shared authentication limit, as a hook of the routes that ask for it only (decided when
  // the route is declared); it runs after every global onRequest hook, as before.
  const authLimit: onRequestHookHandler = (request, _reply, done) => {
    throttle.take(request, [throttle.addressKey(request)]);
    done();
  };
  app.addHook('onRoute', (route) => {
    if (route.config?.authRateLimit) route.onRequest = [...hooksOf(route.onRequest), authLimit];
  });
};

/**
 * Route config for authentication routes (login, password, OTP, elevation): the shared, stricter
 * per-address limit and `no-store`. Use as `{ config: { ...authRouteConfig } }`.
 */
export const authRouteConfig = { authRateLimit: true, cacheControl: 'no-store' } as const;
