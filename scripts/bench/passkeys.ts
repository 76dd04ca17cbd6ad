// The passkey row of bench:login: passwordless logins/s end to end over HTTP (POST
// /v1/auth/passkeys/login/options, the authenticator's assertion, POST /v1/auth/passkeys/login)
// against raw `verifyAuthenticationResponse` of @simplewebauthn/server on the same kind of
// assertions, in the server's process with the same concurrency, in the same run. The
// authenticators are software ones (nid-webauthn-emulator, ES256) in the load generator, one per
// user, so their signing is the client's CPU, as a browser's would be. The app runs with its
// development passkey settings (RP ID localhost, origin http://localhost:8080).

import { randomBytes } from 'node:crypto';
import { type Agent, request } from 'node:http';
import {
  type AuthenticationResponseJSON,
  verifyAuthenticationResponse,
} from '@simplewebauthn/server';
import {
  AuthenticatorEmulator,
  PasskeysCredentialsMemoryRepository,
  WebAuthnEmulator,
} from 'nid-webauthn-emulator';
import { passkeyByWebAuthnId } from '../../projections/factors.ts';
import type { Reader } from '../../src/readmodel/projection.ts';

export const ORIGIN = 'http://localhost:8080';
export const RP_ID = 'localhost';

/** An assertion for a challenge of the raw side's own (no ceremony: only the verification). */
export type PasskeySample = {
  readonly response: AuthenticationResponseJSON;
  readonly challenge: string;
};

type Answer = { status: number; body: Record<string, unknown> };

export const poster =
  (url: string, agent: Agent) =>
  (path: string, payload: unknown, headers: Record<string, string> = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const body = JSON.stringify(payload);
      const r = request(`${url}${path}`, {
        agent,
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      });
      r.once('response', (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.once('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          }),
        );
      });
      r.once('error', reject);
      r.end(body);
    });

type Post = ReturnType<typeof poster>;

const device = () =>
  new WebAuthnEmulator(
    new AuthenticatorEmulator({
      algorithmIdentifiers: ['ES256'],
      credentialsRepository: new PasskeysCredentialsMemoryRepository(),
    }),
  );

/** `users` principals, each with a passkey of its own authenticator, registered by the operator
 * over HTTP (the same ceremony as anyone's). */
export const setUpPasskeys = async (
  post: Post,
  operator: Record<string, string>,
  users: number,
): Promise<WebAuthnEmulator[]> => {
  const devices: WebAuthnEmulator[] = [];
  for (let i = 0; i < users; i++) {
    const made = await post('/v1/principals', { briefName: `passkey-user-${i}` }, operator);
    if (made.status !== 201) throw new Error(`principal ${i}: ${JSON.stringify(made.body)}`);
    const id = String(made.body.principalId);
    const started = await post(`/v1/principals/${id}/passkeys/options`, {}, operator);
    const d = device();
    const credential = d.createJSON(ORIGIN, started.body.options as never);
    const done = await post(
      `/v1/principals/${id}/passkeys`,
      { ceremonyId: started.body.ceremonyId, name: 'bench', credential },
      operator,
    );
    if (done.status !== 201) throw new Error(`passkey ${i}: ${JSON.stringify(done.body)}`);
    devices.push(d);
  }
  return devices;
};

/** `n` assertions of the devices for challenges of their own, for the raw side. */
export const samplesOf = (devices: readonly WebAuthnEmulator[], n: number): PasskeySample[] =>
  Array.from({ length: n }, (_, i) => {
    const challenge = randomBytes(32).toString('base64url');
    const response = devices[i % devices.length]!.getJSON(ORIGIN, {
      challenge,
      rpId: RP_ID,
      allowCredentials: [],
      userVerification: 'required',
    });
    return { response, challenge };
  });

/** `concurrency` loops of passwordless logins for `seconds`, cycling over the devices. */
export const passkeyLogins = async (
  post: Post,
  devices: readonly WebAuthnEmulator[],
  seconds: number,
  concurrency: number,
) => {
  const started = performance.now();
  const until = started + seconds * 1000;
  let ok = 0;
  let failed = 0;
  let cursor = 0;
  const loop = async () => {
    while (performance.now() < until) {
      const d = devices[cursor++ % devices.length]!;
      const options = await post('/v1/auth/passkeys/login/options', { transport: 'bearer' });
      const credential = d.getJSON(ORIGIN, options.body.options as never);
      const r = await post('/v1/auth/passkeys/login', {
        ceremonyId: options.body.ceremonyId,
        credential,
        transport: 'bearer',
      });
      if (r.status === 200 && r.body.token && r.body.complete) ok += 1;
      else failed += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { ok, failed, ms: performance.now() - started };
};

/** The raw side: `concurrency` loops of the library's verification for `seconds`, with the
 * credential's public key as the read model holds it. */
export const rawAssertions = async (
  read: Reader,
  samples: readonly PasskeySample[],
  seconds: number,
  concurrency: number,
) => {
  const keys = samples.map((s) => {
    const r = passkeyByWebAuthnId(read, s.response.id);
    if (!r) throw new Error('a sample of no registered passkey');
    return { id: r.webauthnId, publicKey: new Uint8Array(Buffer.from(r.publicKey, 'base64url')) };
  });
  const started = performance.now();
  const until = started + seconds * 1000;
  let n = 0;
  let cursor = 0;
  const loop = async () => {
    while (performance.now() < until) {
      const i = cursor++ % samples.length;
      const { verified } = await verifyAuthenticationResponse({
        response: samples[i]!.response,
        expectedChallenge: samples[i]!.challenge,
        expectedOrigin: ORIGIN,
        expectedRPID: RP_ID,
        credential: { ...keys[i]!, counter: 0 },
        requireUserVerification: true,
      });
      if (!verified) throw new Error('raw verification failed');
      n += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { verifications: n, ms: performance.now() - started };
};
