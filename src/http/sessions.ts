// The HTTP side of sessions: the `SessionLookup` and `BasicLookup` that authenticate.ts calls,
// node-local activity (idle timeout) with a rate-limited SessionTouched, and how a session token
// reaches the client: a `__Host-` cookie (HttpOnly, Secure, SameSite=Strict) plus the CSRF
// cookie for browsers, the response body for applications (OWASP ASVS 3.4.1-3.4.4, 3.5.2).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthConfig } from '../authn/auth-config.ts';
import type { DirectoryPort } from '../authn/directory-port.ts';
import { type EvidenceProvider, heldEvidences } from '../authn/evidence.ts';
import { basicLogIn } from '../authn/flows/basic.ts';
import type { AuthnPorts, Caller } from '../authn/flows/ports.ts';
import { touchSession } from '../authn/sessions/end.ts';
import { type Activity, type SessionView, sessionByToken } from '../authn/sessions/views.ts';
import { AppError } from '../errors.ts';
import type { AuthlogNode } from '../node/node.ts';
import type { BasicLookup, SessionLookup } from './authenticate.ts';
import { run } from './command.ts';
import { CSRF_COOKIE, clearHostCookie, SESSION_COOKIE, setHostCookie } from './cookies.ts';
import { clientIp } from './proxy.ts';
import { throttleOf } from './rate-limit.ts';

export type Sessions = {
  readonly lookup: SessionLookup;
  readonly basic: BasicLookup;
  readonly settings: AuthConfig;
  readonly providers: readonly EvidenceProvider<unknown>[];
  /** The session the request authenticated with, as the lookup found it. */
  current(request: FastifyRequest): SessionView | undefined;
  /** Node-local activity, also updated when a session is created or rotated. */
  readonly activity: Activity;
  /** What the flows (src/authn/flows/) take from this node, with the request's throttle. */
  ports(request: FastifyRequest): AuthnPorts;
};

declare module 'fastify' {
  interface FastifyInstance {
    sessions: Sessions;
  }
}

/** How often the node-local maps are swept of entries that no longer matter. */
const SWEEP_MS = 60_000;

export const createSessions = (
  node: AuthlogNode,
  settings: AuthConfig,
  options: {
    readonly providers: readonly EvidenceProvider<unknown>[];
    /** The node's external directories (src/directories/), if it has any. */
    readonly directories?: DirectoryPort | undefined;
    readonly clock?: () => number;
  },
): Sessions => {
  const { providers, directories, clock = Date.now } = options;
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
      evidences: heldEvidences(session.evidences),
      elevated: session.elevatedUntil !== null,
      complete: session.complete,
    };
  };

  const ports = (request: FastifyRequest): AuthnPorts => ({
    read: node.read,
    providers,
    settings,
    throttle: throttleOf(request),
    now: clock,
    activity,
    directories,
  });

  // Basic (scenario 5) is checked like a login on every request, so it is throttled like one
  // (src/authn/flows/basic.ts); an address this principal used Basic from before is a known device.
  const basic: BasicLookup = async (identity, password, request) => {
    const ip = clientIp(request);
    const meta = { actor: 'anonymous', correlationId: request.id, ip };
    const found = await basicLogIn(
      ports(request),
      {
        execute: async (command) => (await node.execute(command, meta)).result,
        ip,
        devices: request.server.devices.trustOf(request, { addresses: true }),
      },
      { identity, password },
    );
    return found && { ...found, evidences: new Set(found.evidences) };
  };

  return {
    lookup,
    basic,
    settings,
    providers,
    activity,
    current: (request) => found.get(request),
    ports,
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

/** The session this request came with; refused for any other credential. */
export const ownSession = (request: FastifyRequest): SessionView => {
  const session =
    request.auth?.credential === 'session' ? request.server.sessions.current(request) : undefined;
  if (!session)
    throw new AppError(
      'SESSION_NOT_FOUND',
      'no session: this needs a session login, not a token or Basic',
    );
  return session;
};

/**
 * The caller a flow takes for this request: commands run as the request's actor (`run`, with the
 * read-your-writes header), or with `anonymous` as an anonymous writer whose answer is already
 * sent (work after the answer: registration, reset requests).
 */
export const callerOf = (
  request: FastifyRequest,
  reply: FastifyReply,
  options: { anonymous?: boolean } = {},
): Caller => {
  const ip = clientIp(request);
  const { node, devices } = request.server;
  return {
    execute: options.anonymous
      ? async (command) =>
          (await node.execute(command, { actor: 'anonymous', correlationId: request.id, ip }))
            .result
      : (command) => run(request, reply, command),
    ip,
    devices: devices.trustOf(request),
  };
};
