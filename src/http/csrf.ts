// Cross-site request forgery (OWASP CSRF Prevention Cheat Sheet; ASVS 4.2.2, 3.5.3). A browser
// attaches cookies to requests another site makes it send, so every cookie-authenticated request
// passes three checks, in this order:
// 1. Fetch Metadata: `Sec-Fetch-Site: cross-site` is refused, except a top-level navigation with
//    a safe method (a link to us, which changes nothing).
// 2. Origin: an unsafe request that names its origin must name ours or an allowed one.
// 3. Token: an unsafe request carries `x-csrf-token`, an HMAC of the session id under a server
//    key. Script on another site cannot read it (the cookie that delivers it is ours, and
//    `__Host-`), nor compute it, and it dies with the session.
// Bearer requests are exempt: no browser attaches an Authorization header by itself. Anonymous
// unsafe requests (login) still pass checks 1 and 2, against login CSRF.
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { CSRF_COOKIE, setHostCookie } from './cookies.ts';

export const CSRF_HEADER = 'x-csrf-token';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
export const isSafeMethod = (method: string): boolean => SAFE.has(method);

export type Csrf = {
  /** The token for a session: what the page sends back in `x-csrf-token`. */
  tokenFor(sessionId: string): string;
  /** Sets the token cookie (readable by the page's script) for a new or rotated session. */
  issue(reply: FastifyReply, sessionId: string): void;
};

declare module 'fastify' {
  interface FastifyInstance {
    csrf: Csrf;
  }
}

/** The CSRF key: configured, or derived from the operator token so every start agrees. */
export const csrfKey = (configured: string | undefined, operatorToken: string): Buffer =>
  configured !== undefined
    ? Buffer.from(configured, 'base64')
    : Buffer.from(hkdfSync('sha256', operatorToken, 'authlog', 'authlog csrf token key v1', 32));

const digest = (s: string) => createHash('sha256').update(s).digest();

export const registerCsrf = (
  app: FastifyInstance,
  options: { key: Buffer; allowedOrigins: readonly string[] },
): void => {
  const tokenFor = (sessionId: string) =>
    createHmac('sha256', options.key).update(`csrf\0${sessionId}`).digest('base64url');
  app.decorate('csrf', {
    tokenFor,
    issue: (reply: FastifyReply, sessionId: string) =>
      setHostCookie(reply, CSRF_COOKIE, tokenFor(sessionId), {
        httpOnly: false,
        sameSite: 'strict',
      }),
  } satisfies Csrf);

  const allowed = new Set(options.allowedOrigins);
  const ownOrigin = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

  // Throws its refusal; a callback hook, so that a bearer request passes without a promise.
  const refuse = (request: FastifyRequest): void => {
    const auth = request.auth;
    if (auth?.scheme === 'bearer') return;
    const unsafe = !isSafeMethod(request.method);
    if (auth === null && !unsafe) return;

    const site = request.headers['sec-fetch-site'];
    if (site === 'cross-site') {
      const navigation =
        request.headers['sec-fetch-mode'] === 'navigate' &&
        request.headers['sec-fetch-dest'] === 'document';
      if (unsafe || !navigation)
        throw new AppError('CROSS_SITE_REQUEST', 'requests from other sites are refused');
    }
    if (!unsafe) return;

    const origin = request.headers.origin;
    if (origin !== undefined && origin !== ownOrigin(request) && !allowed.has(origin))
      throw new AppError('ORIGIN_NOT_ALLOWED', 'the request comes from an origin not allowed');

    if (auth?.sessionId !== undefined) {
      const sent = request.headers[CSRF_HEADER];
      if (
        typeof sent !== 'string' ||
        !timingSafeEqual(digest(sent), digest(tokenFor(auth.sessionId)))
      )
        throw new AppError('CSRF_TOKEN_INVALID', `send the session's CSRF token in ${CSRF_HEADER}`);
    }
  };
  app.addHook('preParsing', (request, _reply, _payload, done) => {
    refuse(request);
    done();
  });
};
