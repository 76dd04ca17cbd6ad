// Login over HTTP: start a session (multi-step), add evidence, elevate, log out, and log in through
// the trusted gateway. The use cases are src/authn/flows/ (login.ts, step.ts); here a request is
// parsed, the flow called, and its token delivered (sessions.ts `deliverToken`, devices.ts).
// Answers to a failed login are the same whatever failed: one status, one body (OWASP ASVS 2.2.1,
// 3.2). Besides the body, a step presents the request's client certificate, if it has one
// (client-certificate.ts: the node's mutual TLS, or X-Client-Cert from the trusted gateway).
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { INTERNAL_DIRECTORY } from '../../../projections/identities.ts';
import type { Presented } from '../../authn/evidence.ts';
import { failed } from '../../authn/flows/identify.ts';
import { logIn } from '../../authn/flows/login.ts';
import { addSessionEvidence, elevateSession } from '../../authn/flows/step.ts';
import { endSession } from '../../authn/sessions/end.ts';
import { presentedCertificate } from '../client-certificate.ts';
import { run } from '../command.ts';
import { trustedRemoteUser } from '../proxy.ts';
import { authRouteConfig } from '../rate-limit.ts';
import { errorResponses, Id, Strict } from '../schemas.ts';
import { callerOf, clearSessionCookies, deliverToken, ownSession } from '../sessions.ts';
import type { App } from '../types.ts';
import { Otp, Password, publicView, RecoveryCode, SessionWithToken } from './auth-schemas.ts';

const presentedOf = (
  request: FastifyRequest,
  body: { password?: string; otp?: string; recoveryCode?: string },
): Presented => {
  const certificate = presentedCertificate(request);
  return {
    ...(body.password !== undefined ? { password: body.password } : {}),
    ...(body.otp !== undefined ? { otp: body.otp } : {}),
    ...(body.recoveryCode !== undefined ? { recoveryCode: body.recoveryCode } : {}),
    ...(certificate !== undefined ? { certificate } : {}),
  };
};

const Transport = Type.Union([Type.Literal('cookie'), Type.Literal('bearer')], {
  default: 'cookie',
});

export const loginRoutes = async (
  app: App,
  options: { readonly gatewayDirectory?: string } = {},
) => {
  const step = async (
    request: FastifyRequest,
    reply: FastifyReply,
    flow: typeof addSessionEvidence,
    body: { password?: string; otp?: string; recoveryCode?: string },
  ) => {
    const session = ownSession(request);
    const stepped = await flow(app.sessions.ports(request), callerOf(request, reply), {
      session,
      presented: presentedOf(request, body),
    });
    return {
      ...publicView(stepped.session),
      ...deliverToken(request, reply, session, stepped.token),
    };
  };

  app.post(
    '/auth/login',
    {
      config: { ...authRouteConfig, public: true },
      schema: {
        summary: 'Log in: start a session with what the client presents',
        description:
          'Every evidence provider looks at what is presented (password, OTP, a client certificate over mutual TLS or from the trusted gateway) and where the client is (subnet). The session starts with what was proven; when its policy requires more (MFA, location) it is incomplete until POST /v1/auth/evidence adds it. Browsers get the token as a __Host- cookie plus a CSRF cookie; `transport: bearer` answers it in the body.',
        tags: ['authentication'],
        body: Type.Object(
          {
            identity: Type.String({ minLength: 1, maxLength: 256 }),
            directory: Type.Optional(Id),
            password: Type.Optional(Password),
            otp: Type.Optional(Otp),
            recoveryCode: Type.Optional(RecoveryCode),
            transport: Transport,
          },
          Strict,
        ),
        response: { 200: SessionWithToken, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { identity, directory = INTERNAL_DIRECTORY, transport } = request.body;
      const { session, token, deviceToken } = await logIn(
        app.sessions.ports(request),
        callerOf(request, reply),
        { identity, directory, presented: presentedOf(request, request.body), transport },
      );
      return {
        ...publicView(session),
        ...deliverToken(request, reply, { sessionId: session.sessionId, transport }, token),
        // A fresh device token at every login (OWASP device cookies): this client is known now.
        ...(deviceToken === undefined ? {} : app.devices.deliver(reply, deviceToken, transport)),
      };
    },
  );

  // Logging in through the trusted gateway (src/authn/gateway.ts): the same Login command as above,
  // with the gateway's assertion as the only thing presented. From a peer outside
  // AUTHLOG_GATEWAY_CIDRS the header was ignored and logged by authentication (proxy.ts), and the
  // answer is the one for any failed login. Incomplete sessions may call it: a gateway user whose
  // policy asks for more (MFA) gets an incomplete session to add evidence to, like a login.
  app.post(
    '/auth/gateway-login',
    {
      config: { ...authRouteConfig, public: true, incompleteSession: true },
      schema: {
        summary: 'Log in as the user the trusted gateway names in Remote-User',
        description:
          'Only from a socket peer in AUTHLOG_GATEWAY_CIDRS, for an active identity of AUTHLOG_GATEWAY_DIRECTORY: the session starts with `trust` evidence (method `gateway`). From anywhere else 401 AUTHENTICATION_FAILED, as for any failed login. Throttled and locked out like a login; elevation still needs what the policy asks (a password by default).',
        tags: ['authentication'],
        body: Type.Object({ transport: Transport }, Strict),
        response: { 200: SessionWithToken, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { transport } = request.body;
      // Checked here rather than by trustedRemoteUser alone: authentication already logged a
      // header from anyone else, once.
      const name = app.peerTrust.isGateway(request.socket.remoteAddress)
        ? trustedRemoteUser(request)
        : undefined;
      if (name === undefined) throw failed();
      const { session, token, deviceToken } = await logIn(
        app.sessions.ports(request),
        callerOf(request, reply),
        {
          identity: name,
          directory: options.gatewayDirectory ?? INTERNAL_DIRECTORY,
          presented: { gateway: true },
          transport,
        },
      );
      return {
        ...publicView(session),
        ...deliverToken(request, reply, { sessionId: session.sessionId, transport }, token),
        ...(deviceToken === undefined ? {} : app.devices.deliver(reply, deviceToken, transport)),
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
        body: Type.Object(
          {
            password: Type.Optional(Password),
            otp: Type.Optional(Otp),
            recoveryCode: Type.Optional(RecoveryCode),
          },
          Strict,
        ),
        response: { 200: SessionWithToken, ...errorResponses },
      },
    },
    async (request, reply) => step(request, reply, addSessionEvidence, request.body),
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
        body: Type.Object(
          {
            password: Type.Optional(Password),
            otp: Type.Optional(Otp),
            recoveryCode: Type.Optional(RecoveryCode),
          },
          Strict,
        ),
        response: { 200: SessionWithToken, ...errorResponses },
      },
    },
    async (request, reply) => step(request, reply, elevateSession, request.body),
  );

  app.post(
    '/auth/logout',
    {
      config: { incompleteSession: true, cacheControl: 'no-store' },
      schema: {
        summary: "End the caller's session",
        tags: ['authentication'],
        response: { 200: Type.Object({ ended: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const session = ownSession(request);
      const result = await run(request, reply, endSession({ sessionId: session.sessionId }));
      clearSessionCookies(reply);
      return result;
    },
  );
};
