// Security headers on every answer (DESIGN.md section 10; OWASP ASVS 14.4, OWASP Secure Headers
// Project). The API serves JSON, never a page to render, so its Content-Security-Policy allows
// nothing at all; the one HTML page (/docs) sets its own, still script-free, policy.
// helmet computes the headers from these options once, at start: they are the same for every
// answer, and rebuilding them per request (what @fastify/helmet does) cost more than the
// authorization check the request asked for.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, onRequestHookHandler } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Cache-Control of the route's answers. Everything is `no-store` unless a route opts out:
     * answers hold personal data, session state or secrets, and must not sit in any cache.
     */
    cacheControl?: string;
  }
}

export const API_CSP =
  "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

// No feature a browser could grant a document of this origin (camera, geolocation, payment, …).
export const PERMISSIONS_POLICY = [
  'accelerometer',
  'autoplay',
  'browsing-topics',
  'camera',
  'clipboard-read',
  'clipboard-write',
  'display-capture',
  'encrypted-media',
  'fullscreen',
  'geolocation',
  'gyroscope',
  'hid',
  'identity-credentials-get',
  'idle-detection',
  'magnetometer',
  'microphone',
  'midi',
  'payment',
  'picture-in-picture',
  'publickey-credentials-create',
  'publickey-credentials-get',
  'screen-wake-lock',
  'serial',
  'sync-xhr',
  'usb',
  'web-share',
  'xr-spatial-tracking',
]
  .map((f) => `${f}=()`)
  .join(', ');

const helmetOptions = (hsts: boolean): HelmetOptions => ({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
      objectSrc: ["'none'"],
    },
  },
  crossOriginEmbedderPolicy: { policy: 'require-corp' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  referrerPolicy: { policy: 'no-referrer' },
  // Two years, as hstspreload.org asks; only where the node is reached over TLS (production).
  strictTransportSecurity: hsts
    ? { maxAge: 63_072_000, includeSubDomains: true, preload: false }
    : false,
  xDnsPrefetchControl: { allow: false },
  xFrameOptions: { action: 'deny' },
  xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
});

/** The headers helmet sets with these options, read off a response it is applied to once. */
export const securityHeaders = (options: { hsts: boolean }): Record<string, string> => {
  const response = new ServerResponse(new IncomingMessage(new Socket()));
  helmet(helmetOptions(options.hsts))(response.req, response, (err?: unknown) => {
    if (err) throw err;
  });
  const headers: Record<string, string> = { 'permissions-policy': PERMISSIONS_POLICY };
  for (const [name, value] of Object.entries(response.getHeaders()))
    if (value !== undefined) headers[name] = String(value);
  return headers;
};

export const registerSecurityHeaders = (app: FastifyInstance, options: { hsts: boolean }): void => {
  const headers = { ...securityHeaders(options), 'cache-control': 'no-store' };
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
  // A route that opts out of `no-store` says so in a hook of its own, decided once, when it is
  // declared (`request.routeOptions` builds a new object at every access).
  app.addHook('onRoute', (route) => {
    const cacheControl = route.config?.cacheControl;
    if (cacheControl === undefined || cacheControl === 'no-store') return;
    const own: onRequestHookHandler = (_request, reply, done) => {
      reply.header('cache-control', cacheControl);
      done();
    };
    route.onRequest = [...hooksOf(route.onRequest), own];
  });
};

/** A route's own hooks of one kind as an array (fastify takes one, many or none). */
export const hooksOf = <T>(hooks: T | T[] | undefined): T[] =>
  hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];

/**
 * The minimum for answers written before any hook ran (refusals by the router itself): nothing
 * cached, nothing sniffed, nothing framed.
 */
export const fallbackHeaders = (reply: FastifyReply): void => {
  const defaults: Record<string, string> = {
    'content-security-policy': API_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  };
  for (const [name, value] of Object.entries(defaults))
    if (!reply.hasHeader(name)) reply.header(name, value);
};
