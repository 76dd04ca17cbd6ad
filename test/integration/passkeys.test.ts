// Threat: an account taken over through its passkeys — a passkey registered by someone who is not
// the account's holder (an unelevated session left open, a principal acting on another), a
// passwordless login that proves less than it claims, and an authenticator model a deployment
// does not accept. Real ceremonies over HTTP with a software authenticator (nid-webauthn-emulator:
// ES256 and EdDSA keys, attestation `none`) against @simplewebauthn/server, nothing mocked.
// W3C WebAuthn Level 3: 7.1 (registering), 7.2 (verifying an assertion), 5.4.7 (attestation
// `none`), 6.1 (UP, UV, BE, BS flags); NIST SP 800-63B rev 4 5.1.9 (multi-factor cryptographic
// authenticators: ownership and, verified, inherence); OWASP ASVS 5.0 V6.4 (a new authenticator
// needs a re-authenticated session, V7.5 / 3.7.1 in 4.0).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { App } from '../../src/http/types.ts';
import { auth, startApp } from '../support/app.ts';
import {
  authenticator,
  bearer,
  call,
  expect,
  ORIGIN,
  passkeyLogin,
  passwordSession,
  person,
  registerPasskey,
  sessionAssertion,
  WEBAUTHN,
} from '../support/webauthn.ts';

const PASSWORD = 'a long enough passphrase 4711';

type Evidence = { evidence: string; method: string; credentialId: string };
const evidences = (body: Record<string, unknown>): string[] =>
  (body.evidences as Evidence[]).map((e) => `${e.evidence}:${e.method}`).sort();

describe('passkeys: registration and use', () => {
  let app: App;
  let close: () => Promise<void>;
  before(async () => {
    ({ app, close } = await startApp('pk', { webauthn: WEBAUTHN }));
  });
  after(() => close());

  for (const algorithm of ['ES256', 'EdDSA'] as const) {
    it(`registers an ${algorithm} passkey and logs in with it, no name and no password typed`, async () => {
      const name = `ann-${algorithm}`;
      const id = await person(app, name, PASSWORD);
      const token = await passwordSession(app, name, PASSWORD, true);
      const { device } = authenticator({ algorithmIdentifiers: [algorithm] });
      const { credentialId } = await registerPasskey(app, bearer(token), id, device);
      const listed = await expect(200, app, 'GET', `/v1/principals/${id}/passkeys`, bearer(token));
      const [pk] = listed.items as Record<string, unknown>[];
      assert.equal(pk?.credentialId, credentialId);
      assert.equal(pk?.algorithm, algorithm === 'ES256' ? -7 : -8);
      assert.equal(pk?.backupEligible, true, 'the emulator makes synced passkeys (BE set)');
      assert.equal('publicKey' in (pk ?? {}), false, 'no key leaves the node');

      const login = await passkeyLogin(app, device);
      assert.equal(login.status, 200, JSON.stringify(login.body));
      assert.equal(login.body.principalId, id);
      // UV set by the authenticator: ownership and inherence from the one credential.
      assert.deepEqual(evidences(login.body), ['inherence:webauthn', 'ownership:webauthn']);
      assert.equal(login.body.complete, true);
      const all = (login.body.evidences as Evidence[]).map((e) => e.credentialId);
      assert.deepEqual([...new Set(all)], [credentialId]);
    });
  }

  it('binds a browser login to the browser: the ceremony cookie is needed', async () => {
    const id = await person(app, 'bea', PASSWORD);
    const token = await passwordSession(app, 'bea', PASSWORD, true);
    const { device } = authenticator();
    await registerPasskey(app, bearer(token), id, device);
    const begin = async () => {
      const started = await call(
        app,
        'POST',
        '/v1/auth/passkeys/login/options',
        {},
        {
          transport: 'cookie',
        },
      );
      assert.equal(started.status, 200);
      const cookie = started.cookies['__Host-authlog-passkey'];
      assert.ok(cookie, 'the options set the ceremony cookie');
      return {
        cookie,
        body: {
          ceremonyId: started.body.ceremonyId,
          credential: device.getJSON(ORIGIN, started.body.options as never),
          transport: 'cookie',
        },
      };
    };
    const stolen = await begin();
    // Another browser (no cookie, or another one) answering this browser's ceremony: refused.
    const without = await call(app, 'POST', '/v1/auth/passkeys/login', {}, stolen.body);
    assert.equal(without.status, 401);
    const mine = await begin();
    const other = await begin();
    const crossed = await call(
      app,
      'POST',
      '/v1/auth/passkeys/login',
      { cookie: `__Host-authlog-passkey=${other.cookie}` },
      mine.body,
    );
    assert.equal(crossed.status, 401);
    const ok = await begin();
    const done = await call(
      app,
      'POST',
      '/v1/auth/passkeys/login',
      { cookie: `__Host-authlog-passkey=${ok.cookie}` },
      ok.body,
    );
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.ok(done.cookies['__Host-authlog-session'], 'a browser session cookie');
  });

  it('adds a security key as second factor (UP only: ownership, no inherence)', async () => {
    const id = await person(app, 'cal', PASSWORD);
    await expect(200, app, 'PUT', `/v1/auth/policies/principal/${id}`, auth, {
      require: ['knowledge', 'ownership'],
    });
    const token = await passwordSession(app, 'cal', PASSWORD);
    // An incomplete session cannot elevate to register; the operator registers it (elevation
    // exempt), as an administrator would.
    const { device } = authenticator({
      verifications: { userPresent: true, userVerified: false },
      userGetAssertionInteraction: () => ({ options: { uv: false, up: true } }),
      userMakeCredentialInteraction: () => ({ options: { uv: false, up: true } }),
    });
    await registerPasskey(app, auth, id, device);
    const missing = await expect(200, app, 'GET', '/v1/auth/session', bearer(token));
    assert.deepEqual(missing.missing, ['ownership']);
    const answer = await sessionAssertion(app, token, device);
    const added = await expect(
      200,
      app,
      'POST',
      '/v1/auth/passkeys/evidence',
      bearer(token),
      answer,
    );
    assert.equal(added.complete, true);
    assert.deepEqual(evidences(added), ['knowledge:password', 'ownership:webauthn']);
    assert.notEqual(added.token, token, 'the token rotates');
    // Passwordless needs user verification (L3 7.2 step 17 when the RP requires it).
    const login = await passkeyLogin(app, device);
    assert.equal(login.status, 401);
  });

  it('elevates with a passkey that verifies its user (the default elevation asks a password)', async () => {
    const id = await person(app, 'dee', PASSWORD);
    const elevated = await passwordSession(app, 'dee', PASSWORD, true);
    const { device } = authenticator({ algorithmIdentifiers: ['EdDSA'] });
    await registerPasskey(app, bearer(elevated), id, device);
    const login = await passkeyLogin(app, device);
    const token = String(login.body.token);
    assert.equal(login.body.elevatedUntil, null);
    const answer = await sessionAssertion(app, token, device);
    const up = await expect(
      200,
      app,
      'POST',
      '/v1/auth/passkeys/elevate',
      bearer(String(token)),
      answer,
    );
    assert.ok(typeof up.elevatedUntil === 'string', 'elevated');
    // A policy naming what elevation needs gets exactly that: here a password besides.
    await expect(200, app, 'PUT', `/v1/auth/policies/principal/${id}`, auth, {
      require: [],
      elevate: ['knowledge', 'ownership'],
    });
    const again = await sessionAssertion(app, String(up.token), device);
    const refused = await call(
      app,
      'POST',
      '/v1/auth/passkeys/elevate',
      bearer(String(up.token)),
      again,
    );
    assert.equal(refused.status, 401);
    const both = await sessionAssertion(app, String(up.token), device);
    await expect(200, app, 'POST', '/v1/auth/passkeys/elevate', bearer(String(up.token)), {
      ...both,
      password: PASSWORD,
    });
  });

  it('refuses a registration from a session that is not elevated (ASVS 5.0 V6.4)', async () => {
    const id = await person(app, 'eve', PASSWORD);
    const token = await passwordSession(app, 'eve', PASSWORD, false);
    const r = await call(app, 'POST', `/v1/principals/${id}/passkeys/options`, bearer(token), {});
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'ELEVATION_REQUIRED');
  });

  it('refuses a principal registering a passkey for someone else, and a ceremony taken over', async () => {
    const victim = await person(app, 'fay', PASSWORD);
    const attacker = await person(app, 'gus', PASSWORD);
    const token = await passwordSession(app, 'gus', PASSWORD, true);
    const r = await call(
      app,
      'POST',
      `/v1/principals/${victim}/passkeys/options`,
      bearer(token),
      {},
    );
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'FORBIDDEN');
    // The attacker's own ceremony, answered for the victim's account: refused before the answer
    // is even looked at; answered for its own account it registers, once (single use).
    const own = await expect(
      200,
      app,
      'POST',
      `/v1/principals/${attacker}/passkeys/options`,
      bearer(token),
      {},
    );
    const { device } = authenticator();
    const credential = device.createJSON(ORIGIN, own.options as never);
    const body = { ceremonyId: own.ceremonyId, name: 'x', credential };
    const moved = await call(app, 'POST', `/v1/principals/${victim}/passkeys`, bearer(token), body);
    assert.equal(moved.status, 403);
    assert.equal(moved.body.code, 'FORBIDDEN');
    await expect(201, app, 'POST', `/v1/principals/${attacker}/passkeys`, bearer(token), body);
    const again = await call(
      app,
      'POST',
      `/v1/principals/${attacker}/passkeys`,
      bearer(token),
      body,
    );
    assert.equal(again.status, 400);
    assert.equal(again.body.code, 'PASSKEY_CEREMONY_INVALID', 'single use');
  });

  it('refuses a credential id registered before, to anyone (L3 7.1 step 26)', async () => {
    const id = await person(app, 'hal', PASSWORD);
    const token = await passwordSession(app, 'hal', PASSWORD, true);
    const { device } = authenticator();
    const started = await expect(
      200,
      app,
      'POST',
      `/v1/principals/${id}/passkeys/options`,
      bearer(token),
      {},
    );
    const credential = device.createJSON(ORIGIN, started.options as never);
    await expect(201, app, 'POST', `/v1/principals/${id}/passkeys`, bearer(token), {
      ceremonyId: started.ceremonyId,
      name: 'first',
      credential,
    });
    const again = await expect(
      200,
      app,
      'POST',
      `/v1/principals/${id}/passkeys/options`,
      bearer(token),
      {},
    );
    // The same attestation replayed into a new ceremony fails its challenge first.
    const replayed = await call(app, 'POST', `/v1/principals/${id}/passkeys`, bearer(token), {
      ceremonyId: again.ceremonyId,
      name: 'again',
      credential,
    });
    assert.equal(replayed.body.code, 'PASSKEY_REGISTRATION_INVALID');
  });

  it('lists passkeys among the credentials, and a revoked one logs nobody in', async () => {
    const id = await person(app, 'ida', PASSWORD);
    const token = await passwordSession(app, 'ida', PASSWORD, true);
    const { device } = authenticator();
    const { credentialId } = await registerPasskey(app, bearer(token), id, device);
    const listed = await expect(200, app, 'GET', `/v1/principals/${id}/credentials`, bearer(token));
    const row = (listed.items as Record<string, unknown>[]).find(
      (c) => c.credentialId === credentialId,
    );
    assert.equal(row?.kind, 'passkey');
    assert.equal(row?.name, 'my key (synced)');
    await expect(200, app, 'DELETE', `/v1/credentials/${credentialId}`, bearer(token));
    assert.equal((await passkeyLogin(app, device)).status, 401);
  });
});

describe('passkeys: an AAGUID allow-list', () => {
  const CERTIFIED = '00112233-4455-6677-8899-aabbccddeeff';
  let app: App;
  let close: () => Promise<void>;
  before(async () => {
    ({ app, close } = await startApp('pk-aaguid', {
      webauthn: { ...WEBAUTHN, aaguids: [CERTIFIED] },
    }));
  });
  after(() => close());

  it('registers an allowed model and refuses another with a stable code', async () => {
    const id = await person(app, 'jo', PASSWORD);
    const token = await passwordSession(app, 'jo', PASSWORD, true);
    const allowed = authenticator({
      aaguid: new Uint8Array(Buffer.from(CERTIFIED.replaceAll('-', ''), 'hex')),
    });
    const done = await registerPasskey(app, bearer(token), id, allowed.device);
    assert.equal(done.aaguid, CERTIFIED);
    const other = authenticator();
    const started = await expect(
      200,
      app,
      'POST',
      `/v1/principals/${id}/passkeys/options`,
      bearer(token),
      {},
    );
    const r = await call(app, 'POST', `/v1/principals/${id}/passkeys`, bearer(token), {
      ceremonyId: started.ceremonyId,
      name: 'uncertified',
      credential: other.device.createJSON(ORIGIN, started.options as never),
    });
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'PASSKEY_AUTHENTICATOR_NOT_ALLOWED');
  });
});
