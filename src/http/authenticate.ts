// Who is asking: a bearer token (today the operator token) or a browser session cookie (the
// authentication issue plugs its session lookup in through `SessionLookup`). Runs before the body
// is parsed, after the rate limit has counted the request, so guessing credentials is throttled
// and an anonymous client cannot make us parse anything.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import { hostCookie, SESSION_COOKIE } from './cookies.ts';
import type { GatewayUser } from './gateway.ts';

export type Authenticated = {
  /** How the credential came: `bearer` is exempt from CSRF checks, `cookie` and `gateway` (a
   * browser behind a trusted gateway) are not. */
  readonly scheme: 'bearer' | 'cookie' | 'gateway';
  /** Principal id, or `system` for the operator token; recorded as the events' actor. */
  readonly actor: string;
  /** Session or token id, recorded as the events' `via`. */
  readonly via: string;
  /** The session a cookie named; CSRF tokens are bound to it. */
  readonly sessionId?: string;
  /** What the credential is: commands get it as `CommandMeta.credential` (elevation rules). */
  readonly credential?: 'operator' | 'session' | 'token' | 'basic' | 'gateway';
  /** Evidences the session (or the Basic password) holds now; authz and commands use them. */
  readonly evidences?: ReadonlySet<string>;
  /** The session is elevated (sudo mode) now. */
  readonly elevated?: boolean;
  /** False while the session lacks evidence its policy requires. */
  readonly complete?: boolean;
};

/** A live session, as the session lookup returns it. Fields after `principalId` are optional
 * for lookups that know nothing of evidence (tests); the real one (src/http/sessions.ts) sets
 * them all. */
export type SessionContext = {
  readonly sessionId: string;
  readonly principalId: string;
  /** Evidences that count now, each within its own expiry. */
  readonly evidences?: ReadonlySet<string>;
  readonly elevated?: boolean;
  /** False while the session lacks evidence its policy requires (MFA, location). */
  readonly complete?: boolean;
};

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
    /** Reachable with an incomplete session (adding evidence, logout, reading the session). */
    incompleteSession?: boolean;
  }
}

/**
 * Whether `presented` is `expected`, in time independent of their contents (OWASP ASVS 2.9.3):
 * only the length can be told apart, as with Go's `subtle.ConstantTimeCompare`, and knowing the
 * operator token's length (at least 32 random characters, 43 when generated) does not help guess
 * it. Hashing both first hid the length too, but cost more than the authorization check itself.
 */
export const sameSecret = (presented: string, expected: Buffer): boolean =>
  Buffer.byteLength(presented) === expected.length &&
  timingSafeEqual(Buffer.from(presented), expected);
/** `f` applied to a value that may be a promise, without making one when it is not. */
const andThen = <T, U>(value: T | Promise<T>, f: (t: T) => U): U | Promise<U> =>
  value instanceof Promise ? value.then(f) : f(value);

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/;
const BASIC = /^Basic ([A-Za-z0-9+/]{1,2800}={0,2})$/;
/** Query parameters that would carry a credential in the URL, where logs and referrers see it
 * (RFC 6750 5.3; OWASP ASVS 3.1.1): refused, never read. */
const CREDENTIAL_PARAMS = ['access_token', 'token', 'session', 'api_key', 'apikey'];

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

/** Checks an `Authorization: Basic` identity and password (applications, scenario 5). */
export type BasicLookup = (
  identity: string,
  password: string,
  request: FastifyRequest,
) => Promise<
  | {
      readonly principalId: string;
      readonly credentialId: string;
      readonly evidences: ReadonlySet<string>;
    }
  | undefined
>;

export const registerAuthentication = (
  app: FastifyInstance,
  options: {
    operatorToken: string;
    sessions?: SessionLookup | undefined;
    tokens?: TokenLookup | undefined;
    basic?: BasicLookup | undefined;
    /** A trusted gateway's Remote-User (gateway.ts): undefined when absent or not believed. */
    gateway?: ((request: FastifyRequest) => GatewayUser | 'invalid' | undefined) | undefined;
  },
): void => {
  const expected = Buffer.from(options.operatorToken);
  app.decorateRequest('auth', null);

  // Guessed tokens (issue 14; OWASP ASVS 5.0 6.3.1, 6.3.3: every pathway throttled alike): a
  // bearer or session token that resolves to nothing counts against the client's `token:` bucket
  // (rate-limit.ts); once it is full, the client's tokens are not looked up at all — 429, so a
  // guess that happens to hit cannot be told from one that misses. On a public route (login) the
  // request is anonymous instead: a stale cookie must never keep anyone from logging in.
  const throttle = app.authThrottle;
  const tooManyTokens = (request: FastifyRequest): boolean => {
    const keys = [throttle.tokenKey(request)];
    if (!throttle.full(keys)) return false;
    if (needsCredential(request)) throttle.check(request, keys);
    return true;
  };
  const unknownToken = (request: FastifyRequest): 'invalid' => {
    throttle.fail([throttle.tokenKey(request)]);
    return 'invalid';
  };

  type Identified = Authenticated | 'invalid' | null;

  // Synchronous unless a lookup is (Basic: argon2), so the common bearer request gets no promise.
  const identify = (request: FastifyRequest): Identified | Promise<Identified> => {
    // Looked at whenever the header is sent, so one from a peer that is no gateway is always
    // logged; it counts only when the request carries no other credential.
    const gateway =
      request.headers['remote-user'] === undefined ? undefined : options.gateway?.(request);
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = BEARER.exec(header);
      if (match) {
        const token = match[1]!;
        if (sameSecret(token, expected))
          return {
            scheme: 'bearer',
            actor: 'system',
            via: 'operator-token',
            credential: 'operator',
          };
        if (tooManyTokens(request)) return null;
        const holder = options.tokens?.(token, request);
        if (holder)
          return {
            scheme: 'bearer',
            actor: holder.principalId,
            via: holder.credentialId,
            credential: 'token',
          };
        // An application's session token (login with `transport: bearer`).
        if (!options.sessions) return unknownToken(request);
        return andThen(options.sessions(token, request), (session) =>
          session ? fromSession('bearer', session) : unknownToken(request),
        );
      }
      const basic = BASIC.exec(header);
      if (basic && options.basic) return fromBasic(basic[1]!, options.basic, request);
      return 'invalid';
    }
    const token = hostCookie(request, SESSION_COOKIE);
    if (token === undefined || !options.sessions) {
      if (gateway === undefined || gateway === 'invalid') return gateway ?? null;
      return {
        scheme: 'gateway',
        actor: gateway.principalId,
        via: gateway.via,
        credential: 'gateway',
        evidences: gateway.evidences,
        elevated: false,
        complete: gateway.complete,
      };
    }
    if (tooManyTokens(request)) return null;
    return andThen(options.sessions(token, request), (session) =>
      session ? fromSession('cookie', session) : unknownToken(request),
    );
  };

  const fromBasic = async (
    credentials: string,
    basic: BasicLookup,
    request: FastifyRequest,
  ): Promise<Identified> => {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return 'invalid';
    const found = await basic(decoded.slice(0, colon), decoded.slice(colon + 1), request);
    if (!found) return 'invalid';
    return {
      scheme: 'bearer',
      actor: found.principalId,
      via: found.credentialId,
      credential: 'basic',
      evidences: found.evidences,
      elevated: false,
      complete: true,
    };
  };

  const fromSession = (scheme: 'bearer' | 'cookie', session: SessionContext): Authenticated => ({
    scheme,
    actor: session.principalId,
    via: session.sessionId,
    // CSRF tokens bind to cookie sessions; a bearer session is exempt like any bearer token.
    ...(scheme === 'cookie' ? { sessionId: session.sessionId } : {}),
    credential: 'session',
    ...(session.evidences ? { evidences: session.evidences } : {}),
    elevated: session.elevated ?? false,
    complete: session.complete ?? true,
  });

  // Throws its refusal: a callback hook, which a synchronous lookup passes without a promise.
  const admit = (request: FastifyRequest, who: Identified): void => {
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
    // MFA or location required by policy: until the session holds it, only adding evidence,
    // logging out and reading the session itself (OWASP ASVS 2.2.3 / 4.3.1 spirit: no partial
    // access on a partial login).
    if (request.auth?.complete === false && !request.routeOptions.config.incompleteSession)
      throw new AppError(
        'EVIDENCE_REQUIRED',
        'the session lacks evidence its policy requires; POST /v1/auth/evidence',
      );
  };

  app.addHook('preParsing', (request, _reply, _payload, done) => {
    const query = request.query;
    if (typeof query === 'object' && query !== null) {
      for (const name of CREDENTIAL_PARAMS)
        if (Object.hasOwn(query, name))
          throw new AppError(
            'VALIDATION_FAILED',
            `credentials are not accepted in the URL (${name}); send Authorization: Bearer`,
            { field: name },
          );
    }
    const who = identify(request);
    if (!(who instanceof Promise)) {
      admit(request, who);
      return done();
    }
    who.then((w) => admit(request, w)).then(() => done(), done);
  });
};
