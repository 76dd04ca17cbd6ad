// Authentication over HTTP: login (multi-step), adding evidence, elevation, logout, sessions,
// lockout, passwords, policies and credential directories. Answers to a failed login are the
// same whatever failed (unknown identity, wrong password, locked, inactive): one status, one body
// (OWASP ASVS 2.2.1, 3.2; Authentication Cheat Sheet "Authentication and error messages").
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { INTERNAL_DIRECTORY } from '../../../projections/identities.ts';
import {
  changeCredentialDirectory,
  defineCredentialDirectory,
  listCredentialDirectories,
  setPassword,
} from '../../authn/credentials.ts';
import type { Presented } from '../../authn/evidence.ts';
import { lockoutState, unlockPrincipal } from '../../authn/lockout.ts';
import {
  checkNewPassword,
  dummyHash,
  hashPassword,
  verifyPassword,
} from '../../authn/passwords.ts';
import { listPolicies, setAuthPolicy } from '../../authn/policy.ts';
import { allowedCredentialDirectories } from '../../authn/queries.ts';
import {
  addEvidence,
  elevate,
  endSession,
  endSessionsOf,
  login,
  newSessionToken,
  prepareEvidence,
  type SessionView,
  type StepResult,
  sessionCredentialDirectories,
  sessionsOf,
} from '../../authn/sessions.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { AppError } from '../../errors.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { clientIp } from '../proxy.ts';
import { authRouteConfig } from '../rate-limit.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Id, Nullable, Strict } from '../schemas.ts';
import { accountKey, clearSessionCookies, deliverToken, principalOfIdentity } from '../sessions.ts';
import type { App } from '../types.ts';

const EvidenceName = Type.Union([
  Type.Literal('knowledge'),
  Type.Literal('ownership'),
  Type.Literal('location'),
  Type.Literal('trust'),
  Type.Literal('inherence'),
]);
const Password = Type.String({ minLength: 1, maxLength: 4096 });
const Otp = Type.String({ minLength: 6, maxLength: 10, pattern: '^[0-9]+$' });

const EvidenceSchema = Type.Object({
  evidence: Type.String(),
  method: Type.String(),
  credentialId: Type.String(),
  at: Type.String(),
  expiresAt: Type.String(),
});
export const SessionSchema = Type.Object({
  sessionId: Type.String(),
  principalId: Type.String(),
  transport: Type.String(),
  startedAt: Type.String(),
  expiresAt: Type.String(),
  lastSeenAt: Type.String(),
  evidences: Type.Array(EvidenceSchema),
  complete: Type.Boolean(),
  missing: Type.Array(Type.String()),
  elevatedUntil: Nullable(Type.String()),
});
const SessionWithToken = Type.Composite([
  SessionSchema,
  Type.Object({
    token: Type.Optional(
      Type.String({ description: 'the session token, for `transport: bearer` only: shown once' }),
    ),
    deviceToken: Type.Optional(
      Type.String({
        description:
          'a device token, for `transport: bearer` logins only: send it back as `Authlog-Device` (login, Basic) and this client is a known device (a lockout others caused does not stop it)',
      }),
    ),
  }),
]);
const PolicySchema = Type.Object({
  scope: Type.String(),
  subjectId: Type.String(),
  require: Type.Array(Type.String()),
  elevate: Type.Array(Type.String()),
});
const DirectorySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  evidences: Type.Array(Type.String()),
  evidenceLifetimeSeconds: Type.Integer(),
});
const IdParams = Type.Object({ id: Id }, Strict);
const authProblems = errorResponses;

const publicView = (s: SessionView) => ({
  sessionId: s.sessionId,
  principalId: s.principalId,
  transport: s.transport,
  startedAt: s.startedAt,
  expiresAt: s.expiresAt,
  lastSeenAt: s.lastSeenAt,
  evidences: s.evidences,
  complete: s.complete,
  missing: s.missing,
  elevatedUntil: s.elevatedUntil,
});

/** One answer for every failed attempt. */
export const failed = (): AppError =>
  new AppError('AUTHENTICATION_FAILED', 'the identity or the credentials are not valid');

const presentedOf = (body: { password?: string; otp?: string }): Presented => ({
  ...(body.password !== undefined ? { password: body.password } : {}),
  ...(body.otp !== undefined ? { otp: body.otp } : {}),
});

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

export const authRoutes = async (app: App) => {
  const step = async (
    request: FastifyRequest,
    reply: FastifyReply,
    kind: 'evidence' | 'elevate',
    body: { password?: string; otp?: string },
  ) => {
    const session = ownSession(request);
    // A known device (devices.ts) counts against its own bucket and passes a lockout others caused.
    const device = app.devices.presented(request, session.principalId);
    await app.countAuthAttempt(
      request,
      reply,
      device === undefined
        ? `account:${session.principalId}`
        : `device:${session.principalId}:${device}`,
    );
    const ip = clientIp(request);
    const presented = presentedOf(body);
    const { sessions } = app;
    const attempt = {
      principalId: session.principalId,
      presented,
      ip,
      credentialDirectories: sessionCredentialDirectories(app.node.read, session.sessionId),
    };
    const prepared = await prepareEvidence(
      sessions.providers,
      app.node.read,
      attempt,
      Date.now(),
      sessions.settings.argon2,
    );
    const { token, hash } = newSessionToken();
    const input = {
      sessionId: session.sessionId,
      tokenHash: hash,
      presented,
      ip,
      prepared,
      providers: sessions.providers,
      settings: sessions.settings,
      device,
    };
    const result: StepResult = await run(
      request,
      reply,
      kind === 'evidence' ? addEvidence(input) : elevate(input),
    );
    if (!result.ok) throw failed();
    sessions.activity.set(session.sessionId, Date.now());
    return { ...publicView(result.session), ...deliverToken(request, reply, session, token) };
  };

  app.post(
    '/auth/login',
    {
      config: { ...authRouteConfig, public: true },
      schema: {
        summary: 'Log in: start a session with what the client presents',
        description:
          'Every evidence provider looks at what is presented (password, OTP) and where the client is (subnet). The session starts with what was proven; when its policy requires more (MFA, location) it is incomplete until POST /v1/auth/evidence adds it. Browsers get the token as a __Host- cookie plus a CSRF cookie; `transport: bearer` answers it in the body.',
        tags: ['authentication'],
        body: Type.Object(
          {
            identity: Type.String({ minLength: 1, maxLength: 256 }),
            directory: Type.Optional(Id),
            password: Type.Optional(Password),
            otp: Type.Optional(Otp),
            transport: Type.Union([Type.Literal('cookie'), Type.Literal('bearer')], {
              default: 'cookie',
            }),
          },
          Strict,
        ),
        response: { 200: SessionWithToken, ...authProblems },
      },
    },
    async (request, reply) => {
      const { identity, directory = INTERNAL_DIRECTORY, transport } = request.body;
      const principalId = principalOfIdentity(app.node, identity, directory) ?? null;
      // A device that logged in as this principal before (devices.ts: the device cookie, or the
      // `Authlog-Device` header) counts against its own bucket and passes a lockout that failures
      // from elsewhere caused; anyone else counts against the account (the edge already limits
      // per address). Both before any work.
      const device = principalId === null ? undefined : app.devices.presented(request, principalId);
      await app.countAuthAttempt(
        request,
        reply,
        device === undefined
          ? `account:${principalId ?? accountKey(identity, directory)}`
          : `device:${principalId}:${device}`,
      );
      const ip = clientIp(request);
      const presented = presentedOf(request.body);
      const { sessions } = app;
      const prepared =
        principalId === null
          ? new Map()
          : await prepareEvidence(
              sessions.providers,
              app.node.read,
              {
                principalId,
                presented,
                ip,
                credentialDirectories: allowedCredentialDirectories(app.node.read, directory),
              },
              Date.now(),
              sessions.settings.argon2,
            );
      // Unknown identity: pay for an argon2 verification all the same (no timing oracle).
      if (principalId === null)
        await verifyPassword(await dummyHash(sessions.settings.argon2), presented.password ?? '');
      const { token, hash } = newSessionToken();
      const sessionId = newId();
      const result = await run(
        request,
        reply,
        login({
          sessionId,
          tokenHash: hash,
          transport,
          principalId,
          identity,
          identityDirectoryId: directory,
          device,
          presented,
          ip,
          prepared,
          providers: sessions.providers,
          settings: sessions.settings,
        }),
      );
      if (!result.ok) throw failed();
      sessions.activity.set(sessionId, Date.now());
      return {
        ...publicView(result.session),
        ...deliverToken(request, reply, { sessionId, transport }, token),
        // A fresh device token at every login (OWASP device cookies): this client is known now.
        ...app.devices.deliver(reply, result.session.principalId, transport),
      };
    },
  );

  app.post(
    '/auth/evidence',
    {
      config: { ...authRouteConfig, incompleteSession: true },
      schema: {
        summary: "Add evidence to the caller's session (e.g. an OTP after the password)",
        description: 'Rotates the session token.',
        tags: ['authentication'],
        body: Type.Object({ password: Type.Optional(Password), otp: Type.Optional(Otp) }, Strict),
        response: { 200: SessionWithToken, ...authProblems },
      },
    },
    async (request, reply) => step(request, reply, 'evidence', request.body),
  );

  app.post(
    '/auth/elevate',
    {
      config: { ...authRouteConfig },
      schema: {
        summary: 'Elevate the session (sudo mode) by re-presenting evidence',
        description:
          'Password confirmation by default; a policy may ask for an OTP, both, or a subnet. Never for access tokens or Basic. Rotates the session token.',
        tags: ['authentication'],
        body: Type.Object({ password: Type.Optional(Password), otp: Type.Optional(Otp) }, Strict),
        response: { 200: SessionWithToken, ...authProblems },
      },
    },
    async (request, reply) => step(request, reply, 'elevate', request.body),
  );

  app.post(
    '/auth/logout',
    {
      config: { incompleteSession: true, cacheControl: 'no-store' },
      schema: {
        summary: "End the caller's session",
        tags: ['authentication'],
        response: { 200: Type.Object({ ended: Type.Boolean() }), ...authProblems },
      },
    },
    async (request, reply) => {
      const session = ownSession(request);
      const result = await run(request, reply, endSession({ sessionId: session.sessionId }));
      clearSessionCookies(reply);
      return result;
    },
  );

  app.get(
    '/auth/session',
    {
      config: { incompleteSession: true, cacheControl: 'no-store' },
      schema: {
        summary: "The caller's session: its evidences, what it lacks, its elevation",
        tags: ['authentication'],
        response: { 200: SessionSchema, ...authProblems },
      },
    },
    async (request) => publicView(ownSession(request)),
  );

  app.get(
    '/auth/sessions',
    {
      config: { cacheControl: 'no-store' },
      schema: {
        summary: "The caller's sessions that still work",
        tags: ['authentication'],
        response: { 200: Type.Object({ items: Type.Array(SessionSchema) }), ...authProblems },
      },
    },
    async (request) => {
      const actor = request.auth?.actor ?? 'anonymous';
      return {
        items: sessionsOf(app.node.read, actor, Date.now(), app.sessions.activity).map(publicView),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    {
      schema: {
        summary: 'End a session: your own, or (administrators, elevated) anyone’s',
        tags: ['authentication'],
        params: IdParams,
        response: { 200: Type.Object({ ended: Type.Boolean() }), ...authProblems },
      },
    },
    async (request, reply) => {
      const result = await run(request, reply, endSession({ sessionId: request.params.id }));
      if (request.params.id === request.auth?.via) clearSessionCookies(reply);
      return result;
    },
  );

  app.post(
    '/auth/sessions/end-all',
    {
      schema: {
        summary: "End all the caller's sessions, optionally but the current one",
        tags: ['authentication'],
        body: Type.Object({ keepCurrent: Type.Boolean({ default: false }) }, Strict),
        response: { 200: Type.Object({ ended: Type.Integer() }), ...authProblems },
      },
    },
    async (request, reply) => {
      const actor = request.auth?.actor ?? 'anonymous';
      const keep = request.body.keepCurrent && request.auth?.credential === 'session';
      const result = await run(
        request,
        reply,
        endSessionsOf({
          principalId: actor,
          ...(keep && request.auth ? { exceptSessionId: request.auth.via } : {}),
        }),
      );
      if (!keep) clearSessionCookies(reply);
      return result;
    },
  );

  app.get(
    '/principals/:id/sessions',
    {
      config: { cacheControl: 'no-store' },
      schema: {
        summary: "A principal's sessions that still work (administrators)",
        tags: ['authentication'],
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(SessionSchema) }), ...authProblems },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS, request.params.id);
      return {
        items: sessionsOf(app.node.read, request.params.id, Date.now(), app.sessions.activity).map(
          publicView,
        ),
      };
    },
  );

  app.post(
    '/principals/:id/sessions/end',
    {
      schema: {
        summary: 'Force log-off: end every session of a principal (administrators, elevated)',
        tags: ['authentication'],
        params: IdParams,
        response: { 200: Type.Object({ ended: Type.Integer() }), ...authProblems },
      },
    },
    async (request, reply) =>
      run(request, reply, endSessionsOf({ principalId: request.params.id })),
  );

  app.get(
    '/principals/:id/lockout',
    {
      schema: {
        summary: "A principal's consecutive failures and lockout",
        tags: ['authentication'],
        params: IdParams,
        response: {
          200: Type.Object({
            lockedUntil: Nullable(Type.String()),
            failures: Type.Integer(),
            lockouts: Type.Integer(),
          }),
          ...authProblems,
        },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS, request.params.id);
      return lockoutState(app.node.read, request.params.id, Date.now());
    },
  );

  app.post(
    '/principals/:id/unlock',
    {
      schema: {
        summary: 'Unlock a locked-out principal and reset its failure count (elevated)',
        tags: ['authentication'],
        params: IdParams,
        response: { 200: Type.Object({ unlocked: Type.Boolean() }), ...authProblems },
      },
    },
    async (request, reply) =>
      run(request, reply, unlockPrincipal({ principalId: request.params.id })),
  );

  app.put(
    '/principals/:id/password',
    {
      config: { cacheControl: 'no-store' },
      schema: {
        summary:
          "Set a principal's password (administrators, elevated; Talos create_basic_credential)",
        description:
          '8 to 1024 characters after NFKC normalization, not a commonly used password; stored as argon2id.',
        tags: ['authentication'],
        params: IdParams,
        body: Type.Object(
          {
            password: Password,
            directoryId: Type.Optional(Id),
            validFrom: Type.Optional(Nullable(Type.String({ maxLength: 30 }))),
            validUntil: Type.Optional(Nullable(Type.String({ maxLength: 30 }))),
          },
          Strict,
        ),
        response: {
          200: Type.Object({ credentialId: Type.String(), principalId: Type.String() }),
          ...authProblems,
        },
      },
    },
    async (request, reply) => {
      const { password, ...rest } = request.body;
      const hash = await hashPassword(checkNewPassword(password), app.sessions.settings.argon2);
      return run(
        request,
        reply,
        setPassword({ credentialId: newId(), principalId: request.params.id, hash, ...rest }),
      );
    },
  );

  app.get(
    '/auth/policies',
    {
      schema: {
        summary: 'Authentication policies (required evidences, elevation evidences)',
        tags: ['authentication'],
        response: { 200: Type.Object({ items: Type.Array(PolicySchema) }), ...authProblems },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS);
      return { items: listPolicies(app.node.read) };
    },
  );

  app.put(
    '/auth/policies/:scope/:id',
    {
      schema: {
        summary: 'Set the authentication policy of a principal or a role (elevated)',
        description:
          '`require`: evidences a session must hold before anything but adding evidence (MFA: knowledge + ownership; location: a subnet). `elevate`: evidences an elevation must present (default knowledge).',
        tags: ['authentication'],
        params: Type.Object(
          { scope: Type.Union([Type.Literal('principal'), Type.Literal('role')]), id: Id },
          Strict,
        ),
        body: Type.Object(
          {
            require: Type.Array(EvidenceName, { maxItems: 5 }),
            elevate: Type.Optional(Type.Array(EvidenceName, { maxItems: 5 })),
          },
          Strict,
        ),
        response: { 200: PolicySchema, ...authProblems },
      },
    },
    async (request, reply) =>
      run(
        request,
        reply,
        setAuthPolicy({
          scope: request.params.scope,
          subjectId: request.params.id,
          ...request.body,
        }),
      ),
  );

  app.get(
    '/credential-directories',
    {
      schema: {
        summary: 'Credential directories: kinds of credential and the evidences they provide',
        tags: ['authentication'],
        response: { 200: Type.Object({ items: Type.Array(DirectorySchema) }), ...authProblems },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS);
      return { items: listCredentialDirectories(app.node.read) };
    },
  );

  app.post(
    '/credential-directories',
    {
      schema: {
        summary: 'Define a credential directory',
        tags: ['authentication'],
        body: Type.Object(
          {
            directoryId: Id,
            name: Type.String({ minLength: 1, maxLength: 100 }),
            kind: Type.Union(
              ['password', 'otp', 'subnet', 'gateway', 'token'].map((k) => Type.Literal(k)),
            ),
            evidences: Type.Array(EvidenceName, { minItems: 1, maxItems: 5 }),
            evidenceLifetimeSeconds: Type.Optional(
              Type.Integer({ minimum: 60, maximum: 31_536_000 }),
            ),
          },
          Strict,
        ),
        response: { 201: DirectorySchema, ...authProblems },
      },
    },
    async (request, reply) => {
      const result = await run(request, reply, defineCredentialDirectory(request.body));
      return reply.status(201).send(result);
    },
  );

  app.patch(
    '/credential-directories/:id',
    {
      schema: {
        summary: 'Change a credential directory (name, evidences, evidence lifetime; elevated)',
        tags: ['authentication'],
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            evidences: Type.Optional(Type.Array(EvidenceName, { minItems: 1, maxItems: 5 })),
            evidenceLifetimeSeconds: Type.Optional(
              Type.Integer({ minimum: 60, maximum: 31_536_000 }),
            ),
          },
          Strict,
        ),
        response: { 200: DirectorySchema, ...authProblems },
      },
    },
    async (request, reply) =>
      run(
        request,
        reply,
        changeCredentialDirectory({ directoryId: request.params.id, ...request.body }),
      ),
  );
};
