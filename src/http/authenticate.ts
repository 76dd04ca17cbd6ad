// Who is asking: a bearer token (today the operator token) or a browser session cookie (the
// authentication issue plugs its session lookup in through `SessionLookup`). Runs before the body
// is parsed, after the rate limit has counted the request, so guessing credentials is throttled
// and an anonymous client cannot make us parse anything.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { hostCookie, SESSION_COOKIE } from './cookies.ts';

export type Authenticated = {
  /** How the credential came: `bearer` is exempt from CSRF checks, `cookie` is not. */
  readonly scheme: 'bearer' | 'cookie';
  /** Principal id, or `system` for the operator token; recorded as the events' actor. */
  readonly actor: string;
  /** Session or token id, recorded as the events' `via`. */
  readonly via: string;
  /** The session a cookie named; CSRF tokens are bound to it. */
  readonly sessionId?: string;
};

/** A live session, as the session lookup returns it. */
export type SessionContext = { readonly sessionId: string; readonly principalId: string };

/**
 * What the authentication issue provides: the live session a session cookie's value names, or
 * undefined (unknown, expired, ended). The value is the raw cookie; compare it by hash.
 */
export type SessionLookup = (
  token: string,
  request: FastifyRequest,
) => Promise<SessionContext | undefined> | SessionContext | undefined;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by authentication; null for anonymous requests (public routes only). */
    auth: Authenticated | null;
  }
  interface FastifyContextConfig {
    /** A /v1 route anyone may call (login, registration); other /v1 routes need a credential. */
    public?: boolean;
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/;

/**
 * Routes under /v1 need a credential unless declared public; others (health, docs) do not. The
 * route's own pattern decides where there is one; unknown paths under /v1 need a credential too,
 * so probing them tells an anonymous client nothing.
 */
export const needsCredential = (request: FastifyRequest): boolean => {
  const { config, url } = request.routeOptions;
  if (config.public !== undefined) return !config.public;
  const path = url ?? request.url;
  return path === '/v1' || path.startsWith('/v1/') || path.startsWith('/v1?');
};

/** Resolves a bearer token other than the operator's to its holder (access tokens). */
export type TokenLookup = (
  token: string,
  request: FastifyRequest,
) => { readonly principalId: string; readonly credentialId: string } | undefined;

export const registerAuthentication = (
  app: FastifyInstance,
  options: {
    operatorToken: string;
    sessions?: SessionLookup | undefined;
    tokens?: TokenLookup | undefined;
  },
): void => {
  const expected = sha256(options.operatorToken);
  app.decorateRequest('auth', null);

  const identify = async (request: FastifyRequest): Promise<Authenticated | 'invalid' | null> => {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = BEARER.exec(header);
      // Compare digests in constant time: no timing oracle on the token (OWASP ASVS 2.9.3).
      if (match && timingSafeEqual(sha256(match[1]!), expected))
        return { scheme: 'bearer', actor: 'system', via: 'operator-token' };
      const holder = match ? options.tokens?.(match[1]!, request) : undefined;
      if (holder) return { scheme: 'bearer', actor: holder.principalId, via: holder.credentialId };
      return 'invalid';
    }
    const token = hostCookie(request, SESSION_COOKIE);
    if (token === undefined || !options.sessions) return null;
    const session = await options.sessions(token, request);
    if (!session) return 'invalid';
    return {
      scheme: 'cookie',
      actor: session.principalId,
      via: session.sessionId,
      sessionId: session.sessionId,
    };
  };

  app.addHook('preParsing', async (request) => {
    const who = await identify(request);
    if (who !== null && who !== 'invalid') request.auth = who;
    // A stale cookie or token must not stop anyone from reaching a public route (login).
    if (request.auth === null && needsCredential(request)) {
      throw new AppError(
        'UNAUTHENTICATED',
        options.sessions
          ? 'send a bearer token or a session cookie'
          : 'send the operator token as Authorization: Bearer <token>',
      );
    }
  });
};
