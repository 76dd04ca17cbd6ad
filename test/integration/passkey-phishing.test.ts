// Threat: a passkey assertion used where it was not meant to be — made on a phishing page (a
// sibling origin the deployment does not serve, or for another RP ID), captured and replayed,
// answered late, or carried from one session or ceremony into another — and hostile bytes where
// the ceremony's JSON goes. W3C WebAuthn Level 3 7.2: steps 10-12 (type, challenge), 13 (origin),
// 15 (RP ID hash), 13.4.3 (challenges: random, single use, short-lived); NIST SP 800-63B rev 4
// 3.2.5 (phishing resistance: verifier-name binding); OWASP ASVS 5.0 V6.6 (out-of-band and
// challenge expiry), V1.2 / V2.2 (hostile input is refused, never a 500).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from '../../src/http/types.ts';
import { auth, startApp } from '../support/app.ts';
import {
  authenticator,
  bearer,
  call,
  expect,
  loginAssertion,
  ORIGIN,
  passkeyLogin,
  passwordSession,
  person,
  registerPasskey,
  sessionAssertion,
  WEBAUTHN,
} from '../support/webauthn.ts';

const PASSWORD = 'a long enough passphrase 4711';

const login = (app: App, body: Record<string, unknown>) =>
  call(app, 'POST', '/v1/auth/passkeys/login', {}, { ...body, transport: 'bearer' });

describe('passkey phishing, replay and stale challenges', () => {
  let app: App;
  let close: () => Promise<void>;
  let fast: { app: App; close(): Promise<void> };
  let id: string;
  const { device } = authenticator();
  before(async () => {
    ({ app, close } = await startApp('phish', { webauthn: WEBAUTHN }));
    id = await person(app, 'ann', PASSWORD);
    const token = await passwordSession(app, 'ann', PASSWORD, true);
    await registerPasskey(app, bearer(token), id, device);
    fast = await startApp('phish-fast', { webauthn: { ...WEBAUTHN, timeoutMs: 300 } });
  });
  after(async () => {
    await close();
    await fast.close();
  });

  it('refuses an assertion made on an origin the deployment does not serve (L3 7.2 step 13)', async () => {
    // A sibling subdomain may use the RP ID (the authenticator signs for example.com), but
    // its pages are not the deployment's: only AUTHLOG_WEBAUTHN_ORIGINS are.
    const answer = await loginAssertion(app, device, 'https://user-content.example.com');
    const r = await login(app, answer);
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'AUTHENTICATION_FAILED');
    assert.equal((await passkeyLogin(app, device)).status, 200, 'the real origin still works');
  });

  it('refuses an assertion signed for another RP ID (L3 7.2 step 15)', async () => {
    // A security key that keeps no state signs for whatever RP ID the client names: a page of
    // login.example.com asking for its own RP ID gets a signature over that RP ID's hash.
    const key = authenticator({ stateless: true });
    const bob = await person(app, 'bob', PASSWORD);
    const elevated = await passwordSession(app, 'bob', PASSWORD, true);
    await registerPasskey(app, bearer(elevated), bob, key.device);
    const token = await passwordSession(app, 'bob', PASSWORD);
    const started = await expect(
      200,
      app,
      'POST',
      '/v1/auth/passkeys/session/options',
      bearer(token),
      {},
    );
    const options = { ...(started.options as Record<string, unknown>), rpId: 'login.example.com' };
    const credential = key.device.getJSON(ORIGIN, options as never);
    const r = await call(app, 'POST', '/v1/auth/passkeys/evidence', bearer(token), {
      ceremonyId: started.ceremonyId,
      credential,
    });
    assert.equal(r.status, 401);
    // The same key answering the deployment's RP ID is fine.
    const right = await sessionAssertion(app, token, key.device);
    await expect(200, app, 'POST', '/v1/auth/passkeys/evidence', bearer(token), right);
  });

  it('refuses a replayed assertion: its ceremony is used, and a new ceremony has a new challenge', async () => {
    const answer = await loginAssertion(app, device);
    assert.equal((await login(app, answer)).status, 200);
    assert.equal((await login(app, answer)).status, 401, 'the same ceremony again');
    const fresh = await expect(
      200,
      app,
      'POST',
      '/v1/auth/passkeys/login/options',
      {},
      {
        transport: 'bearer',
      },
    );
    const moved = await login(app, { ...answer, ceremonyId: fresh.ceremonyId });
    assert.equal(moved.status, 401, 'the old assertion in a new ceremony');
  });

  it('refuses an answer after the ceremony timed out (L3 13.4.3)', async () => {
    const cyd = await person(fast.app, 'cyd', PASSWORD);
    const token = await passwordSession(fast.app, 'cyd', PASSWORD, true);
    const { device: own } = authenticator();
    // Registration ceremonies time out too.
    const started = await expect(
      200,
      fast.app,
      'POST',
      `/v1/principals/${cyd}/passkeys/options`,
      bearer(token),
      {},
    );
    await sleep(400);
    const late = await call(fast.app, 'POST', `/v1/principals/${cyd}/passkeys`, bearer(token), {
      ceremonyId: started.ceremonyId,
      name: 'late',
      credential: own.createJSON(ORIGIN, started.options as never),
    });
    assert.equal(late.body.code, 'PASSKEY_CEREMONY_INVALID');
    await registerPasskey(fast.app, bearer(token), cyd, own);
    const answer = await loginAssertion(fast.app, own);
    await sleep(400);
    assert.equal((await login(fast.app, answer)).status, 401);
    const quick = await loginAssertion(fast.app, own);
    assert.equal((await login(fast.app, quick)).status, 200);
  });

  it("refuses a challenge from another session, or a login ceremony's in a session and back", async () => {
    const mine = await passwordSession(app, 'ann', PASSWORD);
    const theirs = await passwordSession(app, 'ann', PASSWORD);
    const forMine = await sessionAssertion(app, mine, device);
    const crossed = await call(app, 'POST', '/v1/auth/passkeys/evidence', bearer(theirs), forMine);
    assert.equal(crossed.status, 401, "another session's challenge");
    const loginCeremony = await loginAssertion(app, device);
    const inSession = await call(
      app,
      'POST',
      '/v1/auth/passkeys/elevate',
      bearer(mine),
      loginCeremony,
    );
    assert.equal(inSession.status, 401, "a login ceremony's challenge in a session");
    const sessionCeremony = await sessionAssertion(app, mine, device);
    assert.equal((await login(app, sessionCeremony)).status, 401, "a session's in a login");
    const ok = await sessionAssertion(app, mine, device);
    await expect(200, app, 'POST', '/v1/auth/passkeys/evidence', bearer(mine), ok);
  });

  it('answers hostile bodies with a problem, never a 500', async () => {
    const good = await loginAssertion(app, device);
    const c = good.credential as unknown as Record<string, unknown> & {
      response: Record<string, unknown>;
    };
    const random = () => randomBytes(64).toString('base64url');
    const bodies: unknown[] = [
      { ...good, credential: { ...c, id: 'not base64url!' } },
      { ...good, credential: { ...c, id: 'A'.repeat(5000) } },
      { ...good, credential: { ...c, type: 'password' } },
      { ...good, credential: { ...c, response: { ...c.response, clientDataJSON: random() } } },
      { ...good, credential: { ...c, response: { ...c.response, authenticatorData: random() } } },
      { ...good, credential: { ...c, response: { ...c.response, signature: random() } } },
      { ...good, credential: { ...c, response: { ...c.response, userHandle: random() } } },
      { ...good, credential: { ...c, response: { ...c.response, extra: 1 } } },
      { ...good, credential: { ...c, rawId: 42 } },
      { ...good, credential: null },
      { ...good, credential: [] },
      { ...good, ceremonyId: { $gt: '' } },
      { ...good, credential: { ...c, clientExtensionResults: { prf: { results: {} } } } },
    ];
    for (const body of bodies) {
      const r = await call(app, 'POST', '/v1/auth/passkeys/login', {}, body);
      assert.ok(
        [400, 401].includes(r.status),
        `${JSON.stringify(body).slice(0, 120)}: ${r.status}`,
      );
      assert.equal(typeof r.body.code, 'string');
    }
    // A body beyond the route's limit.
    const huge = await call(
      app,
      'POST',
      '/v1/auth/passkeys/login',
      {},
      {
        ...good,
        credential: { ...c, response: { ...c.response, signature: 'A'.repeat(40_000) } },
      },
    );
    assert.equal(huge.status, 413);
    // Registration: an attestation object of random bytes, valid base64url.
    const token = await passwordSession(app, 'ann', PASSWORD, true);
    const started = await expect(
      200,
      app,
      'POST',
      `/v1/principals/${id}/passkeys/options`,
      bearer(token),
      {},
    );
    const made = authenticator().device.createJSON(ORIGIN, started.options as never) as unknown as {
      response: Record<string, unknown>;
    };
    const r = await call(app, 'POST', `/v1/principals/${id}/passkeys`, bearer(token), {
      ceremonyId: started.ceremonyId,
      name: 'garbage',
      credential: { ...made, response: { ...made.response, attestationObject: random() } },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'PASSKEY_REGISTRATION_INVALID');
    // Nothing of it was recorded, and the operator sees the principal's one passkey.
    const listed = await expect(200, app, 'GET', `/v1/principals/${id}/passkeys`, auth);
    assert.equal((listed.items as unknown[]).length, 1);
  });
});
