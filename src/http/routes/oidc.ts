// Social and OpenID Connect logins over HTTP (issue 18 item 4; docs/social-login.md). The relying
// party is src/directories/oidc.ts, the linking rules and the login src/authn/external-login.ts;
// here a browser's requests are turned into calls and back.
//
//   GET    /v1/auth/oidc/:directoryId/start      303 to the provider (JSON with Accept: json)
//   GET    /v1/auth/oidc/:directoryId/callback   where the provider sends the browser back
//   POST   /v1/auth/oidc/:directoryId/link       a link ceremony, from the principal's own
//                                                elevated session
//   DELETE /v1/principals/:id/external-accounts/:credentialId   unlink
//
// The flow cookie binds a callback to the browser that started the flow (RFC 9700 4.7 login CSRF,
// 4.5 code injection; OIDC Core 15.5.2): `__Host-`, HttpOnly, SameSite=Lax (the provider's
// redirect back is a cross-site top-level GET: a Strict cookie would not come with it), ten
// minutes, and the flow it names is single-use. The callback is a GET that writes (a session, a
// link): the provider redirects with GET (RFC 6749 4.1.2), so the usual rule (a safe method never
// writes, command.ts `run`) gives way there to the flow cookie and `state`, which are what protect
// it; its commands run through node.execute with the request's metadata.
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type ExternalIdentity,
  linkExternalAccount,
  logInExternal,
  newLinkId,
  recordLinkFailure,
  unlinkExternalAccount,
} from '../../authn/external-login.ts';
import {
  FLOW_TTL_MS,
  type FlowPurpose,
  type OidcService,
  purposeOf,
} from '../../directories/oidc.ts';
import { AppError } from '../../errors.ts';
import { commandMeta, run } from '../command.ts';
import { clearHostCookie, hostCookie, setHostCookie } from '../cookies.ts';
import { authRouteConfig } from '../rate-limit.ts';
import { errorResponses, Id, Strict } from '../schemas.ts';
import { callerOf, deliverToken, ownSession } from '../sessions.ts';
import type { App } from '../types.ts';
import { publicView, SessionWithToken } from './auth-schemas.ts';

const FLOW_COOKIE = 'authlog-oidc';

/** A path on this site: no scheme, no host, no `//` or `\` (an open redirect otherwise: RFC 9700
 * 4.11, ASVS 5.0 V3.7). */
const ReturnTo = Type.String({ maxLength: 500, pattern: '^/(?![/\\\\])[^\\s\\\\]*$' });

const DirectoryParams = Type.Object({ directoryId: Id }, Strict);

const Started = Type.Object({
  authorizationUrl: Type.String({
    description: "the provider's authorization URL: send the browser there",
  }),
  expiresAt: Type.String({ description: 'the flow dies then (ISO 8601 UTC)' }),
});

/** What a provider may add to its redirect (RFC 6749 4.1.2, RFC 9207 `iss`, OIDC Session
 * Management `session_state`, and what Google adds: `authuser`, `hd`, `prompt`, `scope`). */
const CallbackQuery = Type.Object(
  Object.fromEntries(
    [
      'code',
      'state',
      'iss',
      'error',
      'error_description',
      'error_uri',
      'session_state',
      'scope',
      'authuser',
      'hd',
      'prompt',
    ].map((k) => [k, Type.Optional(Type.String({ maxLength: 4096 }))]),
  ),
  Strict,
);

const Linked = Type.Object({
  linked: Type.Boolean({
    description: 'false when the account was linked to this principal already',
  }),
  credentialId: Type.String(),
  directoryId: Type.String(),
});

const ExternalAccountSchema = Type.Object({
  credentialId: Type.String(),
  principalId: Type.String(),
  directoryId: Type.String(),
  issuer: Type.String(),
  subject: Type.String(),
  revoked: Type.Boolean(),
});

const wantsJson = (request: FastifyRequest): boolean =>
  /\bapplication\/json\b/.test(request.headers.accept ?? '');

export const oidcRoutes = async (app: App, options: { readonly service: OidcService }) => {
  const service = options.service;

  const started = async (reply: FastifyReply, directoryId: string, purpose: FlowPurpose) => {
    const flow = await service.start(app.node.read, directoryId, purpose);
    setHostCookie(reply, FLOW_COOKIE, flow.flowToken, {
      sameSite: 'lax',
      maxAgeSeconds: FLOW_TTL_MS / 1000,
    });
    return { authorizationUrl: flow.url, expiresAt: new Date(flow.expiresAt).toISOString() };
  };

  app.get(
    '/auth/oidc/:directoryId/start',
    {
      config: { ...authRouteConfig, public: true },
      schema: {
        summary: "Log in with an external account: send the browser to the directory's provider",
        description:
          'Starts an authorization code flow with PKCE (S256), state and nonce, bound to this browser by a short-lived cookie, and answers 303 to the provider (200 with the URL for `Accept: application/json`). `returnTo`, a path on this site, is where the callback sends the browser once logged in.',
        tags: ['authentication'],
        params: DirectoryParams,
        querystring: Type.Object({ returnTo: Type.Optional(ReturnTo) }, Strict),
        response: { 200: Started, 303: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const out = await started(reply, request.params.directoryId, {
        kind: 'login',
        returnTo: request.query.returnTo,
      });
      if (wantsJson(request)) return out;
      return reply.redirect(out.authorizationUrl, 303);
    },
  );

  app.post(
    '/auth/oidc/:directoryId/link',
    {
      config: { ...authRouteConfig },
      schema: {
        summary: "Link an external account to the caller's principal (elevated session)",
        description:
          "A link ceremony: answers the provider's authorization URL and sets the flow cookie; once the user signs in there, the callback links the account to the principal of this session (if the session still lives). Needs a session (not a token) that is elevated: whoever links an account logs in as this principal with it.",
        tags: ['authentication'],
        params: DirectoryParams,
        body: Type.Object({ returnTo: Type.Optional(ReturnTo) }, Strict),
        response: { 200: Started, ...errorResponses },
      },
    },
    async (request, reply) => {
      const session = ownSession(request);
      if (session.elevatedUntil === null)
        throw new AppError('ELEVATION_REQUIRED', 'elevate the session before linking an account');
      return started(reply, request.params.directoryId, {
        kind: 'link',
        principalId: session.principalId,
        sessionId: session.sessionId,
      });
    },
  );

  app.get(
    '/auth/oidc/:directoryId/callback',
    {
      config: { ...authRouteConfig, public: true, incompleteSession: true },
      schema: {
        summary: 'Where the provider sends the browser back: log in, or finish a link',
        description:
          "Takes this browser's flow (its cookie; once), compares `state`, exchanges the code with the PKCE verifier and checks the ID token (signature against the provider's JWKS, issuer, audience, expiry, nonce) or, for GitHub, reads its user API. A login starts a session (cookie) through the Login command, linking or registering the account first where the directory allows it; a link links the account to the principal that started it. Then 303 to `returnTo` if the flow had one, else 200. Failures: LOGIN_FLOW_INVALID (400), EXTERNAL_LOGIN_DENIED (401, the provider's error code in `error`), EXTERNAL_TOKEN_INVALID (401, which check in `reason`), EXTERNAL_ACCOUNT_NOT_LINKED (403), EXTERNAL_ACCOUNT_TAKEN (409), EXTERNAL_PROVIDER_UNAVAILABLE (503).",
        tags: ['authentication'],
        params: DirectoryParams,
        querystring: CallbackQuery,
        response: {
          200: Type.Union([SessionWithToken, Linked]),
          303: Type.Null(),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { directoryId } = request.params;
      const flowToken = hostCookie(request, FLOW_COOKIE);
      clearHostCookie(reply, FLOW_COOKIE);
      const url = new URL(request.url, 'http://callback.invalid');
      let proven: { account: ExternalIdentity; purpose: FlowPurpose };
      try {
        proven = await service.finish(app.node.read, directoryId, flowToken, url);
      } catch (err) {
        const purpose = purposeOf(err);
        if (purpose?.kind === 'link' && err instanceof AppError)
          await recordFailure(request, purpose.principalId, err);
        if (err instanceof AppError && err.code !== 'LOGIN_FLOW_INVALID')
          request.log.warn(
            { directory: directoryId, code: err.code, ...err.extensions },
            'external login failed',
          );
        throw err;
      }
      const { account, purpose } = proven;
      if (purpose.kind === 'link') {
        const meta = {
          ...commandMeta(request),
          actor: purpose.principalId,
          via: purpose.sessionId,
        };
        try {
          const { result } = await app.node.execute(
            linkExternalAccount({
              sessionId: purpose.sessionId,
              account,
              credentialId: newLinkId(),
            }),
            meta,
          );
          return { ...result, directoryId };
        } catch (err) {
          if (err instanceof AppError) await recordFailure(request, purpose.principalId, err);
          throw err;
        }
      }
      const settings = service.settings(app.node.read, directoryId);
      const { session, token, deviceToken } = await logInExternal(
        app.sessions.ports(request),
        callerOf(request, reply, { anonymous: true }),
        { account, settings, transport: 'cookie' },
      );
      const body = {
        ...publicView(session),
        ...deliverToken(
          request,
          reply,
          { sessionId: session.sessionId, transport: 'cookie' },
          token,
        ),
        ...(deviceToken === undefined ? {} : app.devices.deliver(reply, deviceToken, 'cookie')),
      };
      if (purpose.returnTo !== undefined) return reply.redirect(purpose.returnTo, 303);
      return body;
    },
  );

  const recordFailure = async (request: FastifyRequest, principalId: string, err: AppError) => {
    const detail = err.extensions?.error ?? err.extensions?.reason;
    const reason = `oidc:${err.code.toLowerCase()}${typeof detail === 'string' ? `:${detail}` : ''}`;
    await app.node
      .execute(recordLinkFailure({ principalId, reason }), {
        ...commandMeta(request),
        actor: principalId,
      })
      .catch((e: unknown) => request.log.warn({ err: e }, 'link failure not recorded'));
  };

  app.delete(
    '/principals/:id/external-accounts/:credentialId',
    {
      schema: {
        summary:
          'Unlink an external account (the principal itself or authlog.principals.manage; elevated)',
        description:
          "Revokes the link (terminal): the account logs nobody in, and never links again by itself (not by a verified address, not by registration); only the principal's own link ceremony links it again.",
        tags: ['authentication'],
        params: Type.Object({ id: Id, credentialId: Id }, Strict),
        response: { 200: ExternalAccountSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const x = await run(
        request,
        reply,
        unlinkExternalAccount({
          principalId: request.params.id,
          credentialId: request.params.credentialId,
        }),
      );
      return {
        credentialId: x.credentialId,
        principalId: x.principalId,
        directoryId: x.directoryId,
        issuer: x.issuer,
        subject: x.subject,
        revoked: x.revoked,
      };
    },
  );
};
