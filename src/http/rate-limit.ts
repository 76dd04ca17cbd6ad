// Rate limits (DESIGN.md section 10; OWASP ASVS 2.2.1, 11.1.4): one global limit on every route
// and a stricter one shared by all authentication routes, both per client address: IPv4 by
// address, IPv6 by /64. The client address is the one `trustProxy` resolved, so a spoofed
// X-Forwarded-For from an untrusted peer cannot move a client into a fresh bucket.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { AppError } from '../errors.ts';
import type { RateLimit } from './edge-config.ts';
import { hooksOf } from './headers.ts';
import { clientKey } from './net.ts';
import { clientIp } from './proxy.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Counts the request against the shared authentication limit too (see authRouteConfig). */
    authRateLimit?: boolean;
  }
  interface FastifyInstance {
    /**
     * Counts one authentication attempt under `key` (e.g. `account:<identity key>`) against the
     * authentication limit; throws RATE_LIMITED when over. For per-account limits, which need
     * the body and so cannot run before it is parsed.
     */
    countAuthAttempt(request: FastifyRequest, reply: FastifyReply, key: string): Promise<void>;
  }
}

const keyOf = (request: FastifyRequest): string => clientKey(clientIp(request));

const tooMany = (reply: FastifyReply, ttlMs: number): AppError => {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  reply.header('retry-after', String(seconds));
  return new AppError('RATE_LIMITED', `too many requests; retry in ${seconds}s`, {
    retryAfterSeconds: seconds,
  });
};

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

  // One bucket for every authentication route: spreading guesses over login, OTP and elevation
  // routes gains nothing. Made on first use, once the plugin above has loaded.
  type Limiter = ReturnType<FastifyInstance['createRateLimit']>;
  const keys = new WeakMap<FastifyRequest, string>();
  let byAddress: Limiter | undefined;
  let byKey: Limiter | undefined;
  const limiter = (keyGenerator: (request: FastifyRequest) => string): Limiter =>
    app.createRateLimit({ max: limits.auth.max, timeWindow: limits.auth.windowMs, keyGenerator });
  const check = async (request: FastifyRequest, reply: FastifyReply, limit: Limiter) => {
    const r = await limit(request);
    if (!r.isAllowed && r.isExceeded) {
      request.log.warn({ key: r.key }, 'authentication rate limit exceeded');
      throw tooMany(reply, r.ttl);
    }
  };
  app.decorate(
    'countAuthAttempt',
    async (request: FastifyRequest, reply: FastifyReply, key: string): Promise<void> => {
      keys.set(request, key);
      byKey ??= limiter((r) => `key:${keys.get(r) ?? keyOf(r)}`);
      await check(request, reply, byKey);
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
  const authLimit: onRequestHookHandler = (request, reply, done) => {
    byAddress ??= limiter((r) => `address:${keyOf(r)}`);
    check(request, reply, byAddress).then(() => done(), done);
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
