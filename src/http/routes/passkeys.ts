// Passkeys over HTTP (src/authn/passkeys.ts): register one (options, then the authenticator's
// answer), list a principal's, and use one to log in without a password or a name, as a second
// factor, or to elevate. Each ceremony is two requests to the same node: its options (with a
// `ceremonyId` and a single-use challenge) and the answer. A passwordless login started by a
// browser is bound to it by a `__Host-` cookie set with the options. Revoking a passkey is
// DELETE /v1/credentials/:id, like any credential. The request and answer objects are the JSON
// forms of W3C WebAuthn Level 3 (5.1 `toJSON()`, 5.4 and 5.5 options).
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PasskeyPresented } from '../../authn/evidence.ts';
import { logInWithPasskey } from '../../authn/flows/passkey.ts';
import { addSessionEvidence, elevateSession } from '../../authn/flows/step.ts';
import {
  beginPasskeyRegistration,
  listPasskeys,
  loginOptions,
  newUserHandle,
  type Passkeys,
  registerPasskey,
  registrationOptions,
  sessionOptions,
  verifyRegistration,
} from '../../authn/passkeys.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { clearHostCookie, hostCookie, setHostCookie } from '../cookies.ts';
import { authRouteConfig } from '../rate-limit.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Id, Nullable, Strict } from '../schemas.ts';
import { callerOf, deliverToken, ownSession } from '../sessions.ts';
import type { App } from '../types.ts';
import { Password, publicView, SessionWithToken } from './auth-schemas.ts';

/** The cookie that binds a browser's passwordless login ceremony to that browser. */
export const PASSKEY_COOKIE = 'authlog-passkey';

const IdParams = Type.Object({ id: Id }, Strict);
const b64u = (maxLength: number, description?: string) =>
  Type.String({
    minLength: 1,
    maxLength,
    pattern: '^[A-Za-z0-9_-]+$',
    ...(description ? { description } : {}),
  });
const CeremonyId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });
/** A credential id: base64url of at most 1023 bytes (L3 5.1 `rawId`). */
const CredentialIdB64 = b64u(1364);
const Transport = Type.Union([Type.Literal('cookie'), Type.Literal('bearer')], {
  default: 'cookie',
});
const AuthenticatorTransport = Type.Union(
  ['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb'].map((t) => Type.Literal(t)),
);
const Attachment = Type.Union([Type.Literal('platform'), Type.Literal('cross-platform')]);
/** Client extension outputs authlog knows of (L3 9, 10); anything else is refused. */
const ExtensionOutputs = Type.Object(
  {
    credProps: Type.Optional(Type.Object({ rk: Type.Optional(Type.Boolean()) }, Strict)),
    appid: Type.Optional(Type.Boolean()),
    hmacCreateSecret: Type.Optional(Type.Boolean()),
  },
  Strict,
);

/** What `navigator.credentials.get()` answers, as its `toJSON()` (L3 5.1, 5.2.2). */
const AssertionJson = Type.Object(
  {
    id: CredentialIdB64,
    rawId: CredentialIdB64,
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: b64u(4096),
        authenticatorData: b64u(4096),
        signature: b64u(1024),
        userHandle: Type.Optional(Nullable(b64u(86))),
      },
      Strict,
    ),
    authenticatorAttachment: Type.Optional(Attachment),
    clientExtensionResults: ExtensionOutputs,
  },
  { ...Strict, description: 'PublicKeyCredential.toJSON() of an assertion (W3C WebAuthn L3 5.1)' },
);

/** What `navigator.credentials.create()` answers, as its `toJSON()` (L3 5.1, 5.2.1). */
const AttestationJson = Type.Object(
  {
    id: CredentialIdB64,
    rawId: CredentialIdB64,
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: b64u(4096),
        attestationObject: b64u(16_384),
        authenticatorData: Type.Optional(b64u(4096)),
        transports: Type.Optional(Type.Array(AuthenticatorTransport, { maxItems: 8 })),
        publicKeyAlgorithm: Type.Optional(Type.Integer()),
        publicKey: Type.Optional(b64u(4096)),
      },
      Strict,
    ),
    authenticatorAttachment: Type.Optional(Attachment),
    clientExtensionResults: ExtensionOutputs,
  },
  {
    ...Strict,
    description: 'PublicKeyCredential.toJSON() of a registration (W3C WebAuthn L3 5.1)',
  },
);

const Descriptor = Type.Object({
  id: Type.String(),
  type: Type.String(),
  transports: Type.Optional(Type.Array(Type.String())),
});
/** PublicKeyCredentialRequestOptionsJSON (L3 5.5): hand it to `navigator.credentials.get()`
 * through `PublicKeyCredential.parseRequestOptionsFromJSON()`. */
const RequestOptions = Type.Object({
  challenge: Type.String(),
  timeout: Type.Optional(Type.Integer()),
  rpId: Type.Optional(Type.String()),
  allowCredentials: Type.Optional(Type.Array(Descriptor)),
  userVerification: Type.Optional(Type.String()),
});
/** PublicKeyCredentialCreationOptionsJSON (L3 5.4). */
const CreationOptions = Type.Object({
  rp: Type.Object({ name: Type.String(), id: Type.Optional(Type.String()) }),
  user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }),
  challenge: Type.String(),
  pubKeyCredParams: Type.Array(Type.Object({ alg: Type.Integer(), type: Type.String() })),
  timeout: Type.Optional(Type.Integer()),
  excludeCredentials: Type.Optional(Type.Array(Descriptor)),
  authenticatorSelection: Type.Optional(
    Type.Object({
      authenticatorAttachment: Type.Optional(Type.String()),
      residentKey: Type.Optional(Type.String()),
      requireResidentKey: Type.Optional(Type.Boolean()),
      userVerification: Type.Optional(Type.String()),
    }),
  ),
  attestation: Type.Optional(Type.String()),
  extensions: Type.Optional(Type.Object({ credProps: Type.Optional(Type.Boolean()) })),
});
const Issued = <T extends TSchema>(options: T) =>
  Type.Object({
    ceremonyId: Type.String({ description: 'send it back with the answer' }),
    options,
  });

const PasskeySchema = Type.Object({
  credentialId: Type.String(),
  name: Type.String(),
  directoryId: Type.String(),
  aaguid: Type.String({ description: 'the authenticator model, as it claims it' }),
  algorithm: Type.Integer({ description: 'COSE algorithm: -8 EdDSA, -7 ES256, -257 RS256' }),
  transports: Type.Array(Type.String()),
  backupEligible: Type.Boolean(),
  backedUp: Type.Boolean(),
  discoverable: Nullable(Type.Boolean()),
  counter: Type.Integer({ description: 'the highest signature counter seen at any site' }),
  createdAt: Type.String(),
  validUntil: Nullable(Type.String()),
  revoked: Type.Boolean(),
});

type AssertionBody = Static<typeof AssertionJson>;

/** The assertion as the library reads it: a `null` user handle (some clients send one where
 * L3 5.2.2 leaves it out) is no user handle. */
const assertionOf = ({ response, ...rest }: AssertionBody): AuthenticationResponseJSON => {
  const { userHandle, ...fields } = response;
  return { ...rest, response: userHandle == null ? fields : { ...fields, userHandle } };
};

const SessionAnswer = Type.Object({ ceremonyId: CeremonyId, credential: AssertionJson }, Strict);

export const passkeyRoutes = async (app: App, options: { readonly passkeys: Passkeys }) => {
  const { passkeys } = options;

  /** A registration ceremony is the caller's: its actor and, for a session, that session. */
  const registrant = (request: FastifyRequest) => ({
    actor: request.auth?.actor ?? 'anonymous',
    sessionId: request.auth?.credential === 'session' ? (request.auth.via ?? null) : null,
  });

  app.post(
    '/principals/:id/passkeys/options',
    {
      config: { cacheControl: 'no-store' },
      schema: {
        summary: 'Start registering a passkey or security key: the creation options',
        description:
          'The same rights as enrolling OTP: the principal itself or a manager dominating it, elevated. Answers PublicKeyCredentialCreationOptionsJSON (attestation `none`, discoverable and user verification preferred, EdDSA, ES256, RS256) and a `ceremonyId`; the challenge is single-use and lasts AUTHLOG_WEBAUTHN_TIMEOUT (2 minutes), on this node only.',
        tags: ['credentials'],
        params: IdParams,
        response: { 200: Issued(CreationOptions), ...errorResponses },
      },
    },
    async (request, reply) => {
      const target = await run(
        request,
        reply,
        beginPasskeyRegistration({
          principalId: request.params.id,
          newUserHandle: newUserHandle(),
        }),
      );
      return registrationOptions(passkeys, target, registrant(request));
    },
  );

  app.post(
    '/principals/:id/passkeys',
    {
      bodyLimit: 32 * 1024,
      schema: {
        summary: "Register a passkey: the authenticator's answer to the creation options",
        description:
          "Verified against the ceremony (same caller, same session, same principal; single use), this deployment's RP ID and origins. Refused: PASSKEY_CEREMONY_INVALID, PASSKEY_REGISTRATION_INVALID, PASSKEY_AUTHENTICATOR_NOT_ALLOWED (AUTHLOG_WEBAUTHN_AAGUIDS), PASSKEY_ALREADY_REGISTERED.",
        tags: ['credentials'],
        params: IdParams,
        body: Type.Object(
          {
            ceremonyId: CeremonyId,
            name: Type.String({ minLength: 1, maxLength: 100 }),
            credential: AttestationJson,
            validUntil: Type.Optional(Type.String({ maxLength: 30, description: 'ISO 8601 UTC' })),
          },
          Strict,
        ),
        response: {
          201: Type.Object({ credentialId: Type.String(), aaguid: Type.String() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { ceremonyId, name, credential, validUntil } = request.body;
      // Who may register is judged before the answer is looked at (and again when recording).
      await run(
        request,
        reply,
        beginPasskeyRegistration({ principalId: request.params.id, newUserHandle: '' }),
      );
      const verified = await verifyRegistration(passkeys, {
        ceremonyId,
        principalId: request.params.id,
        ...registrant(request),
        response: credential,
      });
      const result = await run(
        request,
        reply,
        registerPasskey({
          credentialId: newId(),
          principalId: request.params.id,
          name,
          verified,
          allowedAaguids: passkeys.config.aaguids,
          validUntil,
        }),
      );
      return reply.status(201).send(result);
    },
  );

  app.get(
    '/principals/:id/passkeys',
    {
      schema: {
        summary: "A principal's passkeys: public facts (no key)",
        tags: ['credentials'],
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(PasskeySchema) }), ...errorResponses },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS, request.params.id);
      return { items: listPasskeys(app.node.read, request.params.id) };
    },
  );

  app.post(
    '/auth/passkeys/login/options',
    {
      config: { ...authRouteConfig, public: true },
      schema: {
        summary: 'Start a passwordless login: request options for any discoverable passkey',
        description:
          'Nobody is named: the passkey the user picks names its principal. User verification required. With `transport: cookie` (browsers) the ceremony is also bound to this browser by a __Host- cookie.',
        tags: ['authentication'],
        body: Type.Object({ transport: Transport }, Strict),
        response: { 200: Issued(RequestOptions), ...errorResponses },
      },
    },
    async (request, reply) => {
      const browser = request.body.transport === 'cookie';
      const { ceremonyId, options: issued, browserSecret } = await loginOptions(passkeys, browser);
      if (browserSecret !== undefined)
        setHostCookie(reply, PASSKEY_COOKIE, browserSecret, {
          maxAgeSeconds: Math.ceil(passkeys.config.timeoutMs / 1000),
        });
      return { ceremonyId, options: issued };
    },
  );

  app.post(
    '/auth/passkeys/login',
    {
      config: { ...authRouteConfig, public: true },
      bodyLimit: 32 * 1024,
      schema: {
        summary: 'Log in with a passkey: the assertion answering the login options',
        description:
          'Starts a session like POST /v1/auth/login (throttled, locked out and recorded alike; the same answer whatever failed) with `ownership` and, the user verified, `inherence` evidence (method `webauthn`).',
        tags: ['authentication'],
        body: Type.Object(
          { ceremonyId: CeremonyId, credential: AssertionJson, transport: Transport },
          Strict,
        ),
        response: { 200: SessionWithToken, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { ceremonyId, credential, transport } = request.body;
      const browser = hostCookie(request, PASSKEY_COOKIE);
      clearHostCookie(reply, PASSKEY_COOKIE);
      const passkey: PasskeyPresented = { ceremonyId, response: assertionOf(credential), browser };
      const { session, token, deviceToken } = await logInWithPasskey(
        app.sessions.ports(request),
        callerOf(request, reply),
        passkeys,
        { passkey, transport },
      );
      return {
        ...publicView(session),
        ...deliverToken(request, reply, { sessionId: session.sessionId, transport }, token),
        ...(deviceToken === undefined ? {} : app.devices.deliver(reply, deviceToken, transport)),
      };
    },
  );

  app.post(
    '/auth/passkeys/session/options',
    {
      config: { ...authRouteConfig, incompleteSession: true },
      schema: {
        summary: "Request options to add a passkey to the caller's session or to elevate it",
        description:
          "The caller's live passkeys are offered; the challenge is bound to this session. Answer with POST /v1/auth/passkeys/evidence or /v1/auth/passkeys/elevate.",
        tags: ['authentication'],
        response: { 200: Issued(RequestOptions), ...errorResponses },
      },
    },
    async (request) => sessionOptions(passkeys, app.node.read, ownSession(request), Date.now()),
  );

  const step = async (
    request: FastifyRequest,
    reply: FastifyReply,
    flow: typeof addSessionEvidence,
    body: { ceremonyId: string; credential: AssertionBody; password?: string },
  ) => {
    const session = ownSession(request);
    const stepped = await flow(app.sessions.ports(request), callerOf(request, reply), {
      session,
      presented: {
        passkey: { ceremonyId: body.ceremonyId, response: assertionOf(body.credential) },
        ...(body.password !== undefined ? { password: body.password } : {}),
      },
    });
    return {
      ...publicView(stepped.session),
      ...deliverToken(request, reply, session, stepped.token),
    };
  };

  app.post(
    '/auth/passkeys/evidence',
    {
      config: { ...authRouteConfig, incompleteSession: true },
      bodyLimit: 32 * 1024,
      schema: {
        summary: "Add a passkey's evidence to the caller's session (a second factor)",
        description: 'Rotates the session token.',
        tags: ['authentication'],
        body: SessionAnswer,
        response: { 200: SessionWithToken, ...errorResponses },
      },
    },
    async (request, reply) => step(request, reply, addSessionEvidence, request.body),
  );

  app.post(
    '/auth/passkeys/elevate',
    {
      config: { ...authRouteConfig },
      bodyLimit: 32 * 1024,
      schema: {
        summary: 'Elevate the session (sudo mode) with a passkey',
        description:
          'A passkey that verified its user stands in for the default password confirmation; a policy naming other evidences needs them too (`password` may come along). Rotates the session token.',
        tags: ['authentication'],
        body: Type.Object(
          { ceremonyId: CeremonyId, credential: AssertionJson, password: Type.Optional(Password) },
          Strict,
        ),
        response: { 200: SessionWithToken, ...errorResponses },
      },
    },
    async (request, reply) => step(request, reply, elevateSession, request.body),
  );
};
