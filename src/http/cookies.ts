// Cookies as the design wants them: `__Host-` prefixed, so the browser only accepts them Secure,
// from this exact host, with Path=/ and no Domain (RFC 6265bis 4.1.3.2): no sibling subdomain can
// set or overwrite them. HttpOnly unless script must read them (the CSRF token), SameSite=Strict
// unless a cross-site top-level navigation must carry them (OWASP ASVS 3.4).
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'authlog-session';
export const CSRF_COOKIE = 'authlog-csrf';

export type HostCookieOptions = {
  /** Default `strict`; `lax` only for a cookie that must survive a link from another site. */
  readonly sameSite?: 'strict' | 'lax';
  /** Default true; false only for a value the page's script must read (the CSRF token). */
  readonly httpOnly?: boolean;
  /** Lifetime in seconds; without it the cookie ends with the browser session. */
  readonly maxAgeSeconds?: number;
};

const NAME = /^[A-Za-z0-9-]{1,64}$/;
// base64url and the separators of our own tokens: nothing that needs quoting or escaping.
const VALUE = /^[A-Za-z0-9._~-]{0,4096}$/;

export const hostCookieName = (name: string): string => `__Host-${name}`;

export const registerCookies = (app: FastifyInstance): void => {
  // No signing: our cookie values are opaque random tokens, checked against their hash.
  app.register(cookie, { hook: 'onRequest' });
};

export const setHostCookie = (
  reply: FastifyReply,
  name: string,
  value: string,
  options: HostCookieOptions = {},
): void => {
  if (!NAME.test(name) || !VALUE.test(value)) throw new Error('cookie name or value not allowed');
  reply.setCookie(hostCookieName(name), value, {
    path: '/',
    secure: true,
    httpOnly: options.httpOnly ?? true,
    sameSite: options.sameSite ?? 'strict',
    ...(options.maxAgeSeconds !== undefined ? { maxAge: options.maxAgeSeconds } : {}),
  });
};

/** Tells the browser to drop the cookie (same attributes, expired). */
export const clearHostCookie = (reply: FastifyReply, name: string): void => {
  reply.clearCookie(hostCookieName(name), { path: '/', secure: true, sameSite: 'strict' });
};

/** The cookie's value, only when it is well-formed. */
export const hostCookie = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.cookies[hostCookieName(name)];
  return value !== undefined && value !== '' && VALUE.test(value) ? value : undefined;
};
