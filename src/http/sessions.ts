// The HTTP side of sessions: the `SessionLookup` and `BasicLookup` that authenticate.ts calls,
// node-local activity (idle timeout) with a rate-limited SessionTouched, and how a session token
// reaches the client: a `__Host-` cookie (HttpOnly, Secure, SameSite=Strict) plus the CSRF
// cookie for browsers, the response body for applications (OWASP ASVS 3.4.1-3.4.4, 3.5.2).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { INTERNAL_DIRECTORY } from '../../projections/identities.ts';
import type { AuthConfig } from '../authn/auth-config.ts';
import { basicAuthenticate } from '../authn/basic.ts';
import type { EvidenceProvider } from '../authn/evidence.ts';
import { recordFailure } from '../authn/lockout.ts';
import { passwordProvider } from '../authn/password-provider.ts';
import { dummyHash, verifyPassword } from '../authn/passwords.ts';
import { allowedCredentialDirectories, identityHolding } from '../authn/queries.ts';
import {
  type Activity,
  prepareEvidence,
  type SessionView,
  sessionByToken,
  touchSession,
} from '../authn/sessions.ts';
import { identityName } from '../events/normalize.ts';
import type { AuthlogNode } from '../node/node.ts';
import type { BasicLookup, SessionLookup } from './authenticate.ts';
import { CSRF_COOKIE, clearHostCookie, SESSION_COOKIE, setHostCookie } from './cookies.ts';
import { clientIp } from './proxy.ts';

export type Sessions = {
  readonly lookup: SessionLookup;
  readonly basic: BasicLookup;
  readonly settings: AuthConfig;
  readonly providers: readonly EvidenceProvider<unknown>[];
  /** The session the request authenticated with, as the lookup found it. */
  current(request: FastifyRequest): SessionView | undefined;
  /** Node-local activity, also updated when a session is created or rotated. */
  readonly activity: Activity;
};

declare module 'fastify' {
  interface FastifyInstance {
    sessions: Sessions;
  }
}

/** The principal an identity names in a directory (only an identity holding its name). */
export const principalOfIdentity = (
  node: AuthlogNode,
  identity: string,
  directoryId: string = INTERNAL_DIRECTORY,
): string | undefined => {
  let key: string;
  try {
    key = identityName('identity', identity).key;
  } catch {
    return undefined;
  }
  return identityHolding(node.read, directoryId, key)?.principalId;
};

/** The per-account throttle key of an identity that names nobody (as /v1/auth/login counts it). */
export const accountKey = (identity: string, directoryId: string = INTERNAL_DIRECTORY): string => {
  try {
    return `${directoryId}:${identityName('identity', identity).key}`;
  } catch {
    // An impossible name is just an unknown one.
    return `${directoryId}:${identity.slice(0, 256)}`;
  }
};

/** How often the node-local maps are swept of entries that no longer matter. */
const SWEEP_MS = 60_000;

export const createSessions = (
  node: AuthlogNode,
  settings: AuthConfig,
  providers: readonly EvidenceProvider<unknown>[],
  clock: () => number = Date.now,
): Sessions => {
  const activity: Activity = new Map();
  const touched = new Map<string, number>();
  const found = new WeakMap<FastifyRequest, SessionView>();

  // Both maps gain an entry for every session used here, for as long as the node runs. Once a
  // minute the entries that can no longer change an answer go: a touch time older than the touch
  // interval (the next use touches again either way), and a last use older than the idle timeout
  // plus that interval. Such a session is idle at this node's timeout with or without its entry;
  // one started elsewhere with a longer timeout falls back to its replicated touch time, which is
  // at most one touch interval older than its last use here.
  let swept = clock();
  const sweep = (now: number) => {
    if (now - swept < SWEEP_MS) return;
    swept = now;
    const interval = settings.touchIntervalS * 1000;
    const idle = settings.idleTimeoutS * 1000 + interval;
    for (const [id, at] of activity) if (now - at > idle) activity.delete(id);
    for (const [id, at] of touched) if (now - at > interval) touched.delete(id);
  };

  const touch = (session: SessionView, now: number) => {
    const last = touched.get(session.sessionId) ?? Date.parse(session.startedAt);
    if (now - last < settings.touchIntervalS * 1000) return;
    touched.set(session.sessionId, now);
    node
      .execute(touchSession({ sessionId: session.sessionId, at: now }), {
        actor: session.principalId,
        via: session.sessionId,
      })
      .catch((err: unknown) => node.log.warn({ err }, 'session touch not recorded'));
  };

  const lookup: SessionLookup = (token, request) => {
    const now = clock();
    sweep(now);
    // As the session counts from where this request comes: location evidence (and an elevation
    // that rested on it) only inside the subnet credential that proved it (issue 14 item 6).
    const session = sessionByToken(node.read, token, now, activity, clientIp(request));
    if (!session) return undefined;
    activity.set(session.sessionId, now);
    touch(session, now);
    found.set(request, session);
    return {
      sessionId: session.sessionId,
      principalId: session.principalId,
      evidences: new Set(session.evidences.map((e) => e.evidence)),
      elevated: session.elevatedUntil !== null,
      complete: session.complete,
    };
  };

  // Basic (scenario 5) is checked like a login on every request, so it is throttled like one
  // (rate-limit.ts), before argon2 and before any event: an unknown client takes an attempt from
  // its address's bucket and from the account's, shared with /v1/auth/login; a known device (a
  // device token in `Authlog-Device`, or an address this principal used Basic from before) takes
  // one from its own bucket and gets it back when it succeeds, so a busy application is not
  // throttled and guessing from elsewhere cannot lock it out (devices.ts, lockout.ts).
  const basic: BasicLookup = async (identity, password, request) => {
    const ip = clientIp(request);
    const { authThrottle: throttle, devices } = request.server;
    const principalId = principalOfIdentity(node, identity);
    const device =
      principalId === undefined
        ? undefined
        : (devices.presented(request, principalId) ?? devices.knownAddress(request, principalId));
    const release = throttle.take(
      request,
      principalId !== undefined && device !== undefined
        ? [`device:${principalId}:${device}`]
        : [throttle.addressKey(request), `account:${principalId ?? accountKey(identity)}`],
    );
    const meta = { actor: 'anonymous', correlationId: request.id, ip };
    if (principalId === undefined) {
      await verifyPassword(await dummyHash(settings.argon2), password);
      await node.execute(
        recordFailure(
          { principalId: null, reason: 'unknown-identity', step: 'basic', identity },
          settings,
        ),
        meta,
      );
      return undefined;
    }
    const attempt = {
      principalId,
      presented: { password },
      ip,
      credentialDirectories: allowedCredentialDirectories(node.read, INTERNAL_DIRECTORY),
    };
    const prepared = await prepareEvidence(
      [passwordProvider],
      node.read,
      attempt,
      Date.now(),
      settings.argon2,
    );
    const { result } = await node.execute(
      basicAuthenticate({
        principalId,
        identity,
        password,
        ip,
        prepared,
        provider: passwordProvider,
        settings,
        device,
      }),
      meta,
    );
    if (!result.ok) return undefined;
    if (device !== undefined) release();
    devices.rememberAddress(request, principalId);
    return {
      principalId,
      credentialId: result.credentialId,
      evidences: new Set(result.evidences),
    };
  };

  return {
    lookup,
    basic,
    settings,
    providers,
    activity,
    current: (request) => found.get(request),
  };
};

/** Hands a new or rotated token to the client the way its session holds it. */
export const deliverToken = (
  request: FastifyRequest,
  reply: FastifyReply,
  session: { sessionId: string; transport: 'cookie' | 'bearer' },
  token: string,
): { token?: string } => {
  if (session.transport === 'bearer') return { token };
  setHostCookie(reply, SESSION_COOKIE, token, {
    maxAgeSeconds: request.server.sessions.settings.absoluteTimeoutS,
  });
  request.server.csrf.issue(reply, session.sessionId);
  return {};
};

export const clearSessionCookies = (reply: FastifyReply): void => {
  clearHostCookie(reply, SESSION_COOKIE);
  clearHostCookie(reply, CSRF_COOKIE);
};
