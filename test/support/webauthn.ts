// Passkey ceremonies over HTTP (fastify inject) with a software authenticator from npm
// (nid-webauthn-emulator: real CTAP2 ES256 / EdDSA keys and signatures, attestation `none`), and
// the principals and sessions they need.
import assert from 'node:assert/strict';
import {
  AuthenticatorEmulator,
  type AuthenticatorParameters,
  PasskeysCredentialsMemoryRepository,
  WebAuthnEmulator,
} from 'nid-webauthn-emulator';
import type { WebAuthnConfig } from '../../src/authn/passkey-config.ts';
import type { App } from '../../src/http/types.ts';
import { auth } from './app.ts';

export const RP_ID = 'example.com';
export const ORIGIN = 'https://login.example.com';
export const WEBAUTHN: WebAuthnConfig = {
  rpId: RP_ID,
  rpName: 'authlog test',
  origins: [ORIGIN],
  aaguids: null,
  timeoutMs: 120_000,
};

export type Answer = {
  status: number;
  body: Record<string, unknown>;
  cookies: Record<string, string>;
};

export const call = async (
  app: App,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Answer> => {
  const r = await app.inject({
    method: method as 'POST',
    url,
    headers,
    ...(body !== undefined ? { payload: body as object } : {}),
  });
  const cookies: Record<string, string> = {};
  for (const c of r.cookies) cookies[c.name] = c.value;
  let parsed: Record<string, unknown> = {};
  try {
    parsed = r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {};
  } catch {
    parsed = {};
  }
  return { status: r.statusCode, body: parsed, cookies };
};

/** Like `call`, asserting the status. */
export const expect = async (
  status: number,
  app: App,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<Record<string, unknown>> => {
  const r = await call(app, method, url, headers, body);
  assert.equal(r.status, status, `${method} ${url}: ${JSON.stringify(r.body)}`);
  return r.body;
};

/** A software authenticator with its own credential store (the emulator's default store is
 * shared by every instance). Default: ES256, user verification, counter +1 per use. */
export const authenticator = (
  params: Partial<AuthenticatorParameters> = {},
): { readonly device: WebAuthnEmulator; readonly params: AuthenticatorEmulator['params'] } => {
  const emulator = new AuthenticatorEmulator({
    ...params,
    credentialsRepository:
      params.credentialsRepository ?? new PasskeysCredentialsMemoryRepository(),
  });
  return { device: new WebAuthnEmulator(emulator), params: emulator.params };
};

export const bearer = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
});

/** A person with an internal identity `name` and a password, made by the operator. */
export const person = async (app: App, name: string, password: string): Promise<string> => {
  const created = await expect(201, app, 'POST', '/v1/principals', auth, {
    briefName: name,
    identity: { name },
  });
  const id = String(created.principalId);
  await expect(200, app, 'PUT', `/v1/principals/${id}/password`, auth, { password });
  return id;
};

/** A bearer session by password; elevated (by the password again) when asked. */
export const passwordSession = async (
  app: App,
  name: string,
  password: string,
  elevated = false,
): Promise<string> => {
  const logged = await expect(
    200,
    app,
    'POST',
    '/v1/auth/login',
    {},
    {
      identity: name,
      password,
      transport: 'bearer',
    },
  );
  let token = String(logged.token);
  if (elevated) {
    const up = await expect(200, app, 'POST', '/v1/auth/elevate', bearer(token), { password });
    token = String(up.token);
  }
  return token;
};

type Registered = { readonly credentialId: string; readonly aaguid: string };

/** Registers a passkey of `device` for `principalId` as the caller of `headers`. */
export const registerPasskey = async (
  app: App,
  headers: Record<string, string>,
  principalId: string,
  device: WebAuthnEmulator,
  origin = ORIGIN,
): Promise<Registered> => {
  const started = await expect(
    200,
    app,
    'POST',
    `/v1/principals/${principalId}/passkeys/options`,
    headers,
    {},
  );
  const credential = device.createJSON(origin, started.options as never);
  const done = await expect(201, app, 'POST', `/v1/principals/${principalId}/passkeys`, headers, {
    ceremonyId: started.ceremonyId,
    name: 'my key',
    credential,
  });
  return { credentialId: String(done.credentialId), aaguid: String(done.aaguid) };
};

/** Login options (bearer) and the device's assertion for them. */
export const loginAssertion = async (app: App, device: WebAuthnEmulator, origin = ORIGIN) => {
  const started = await expect(
    200,
    app,
    'POST',
    '/v1/auth/passkeys/login/options',
    {},
    {
      transport: 'bearer',
    },
  );
  return {
    ceremonyId: String(started.ceremonyId),
    credential: device.getJSON(origin, started.options as never),
  };
};

/** A passwordless login with the device: the answer (status and body). */
export const passkeyLogin = async (app: App, device: WebAuthnEmulator, origin = ORIGIN) => {
  const { ceremonyId, credential } = await loginAssertion(app, device, origin);
  return call(
    app,
    'POST',
    '/v1/auth/passkeys/login',
    {},
    {
      ceremonyId,
      credential,
      transport: 'bearer',
    },
  );
};

/** Session options for the caller's session and the device's assertion for them. */
export const sessionAssertion = async (
  app: App,
  token: string,
  device: WebAuthnEmulator,
  origin = ORIGIN,
) => {
  const started = await expect(
    200,
    app,
    'POST',
    '/v1/auth/passkeys/session/options',
    bearer(token),
    {},
  );
  return {
    ceremonyId: String(started.ceremonyId),
    credential: device.getJSON(origin, started.options as never),
  };
};
