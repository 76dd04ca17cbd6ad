// Threat: an administrator phished — a real-time proxy relays the password and the OTP the victim
// types on a look-alike page, and the session it gets holds knowledge and ownership like the
// victim's own. A role directory may require phishing-resistant evidence (NIST SP 800-63B rev 4
// 3.2.5, verifier-name binding; required at AAL3, recommended for privileged users by OMB M-22-09
// and CISA): memberships of its roles then count only in sessions holding evidence of a passkey (W3C
// WebAuthn L3: the signature covers the RP ID, the client data names the origin) or a client
// certificate. DESIGN.md section 8, role directories' required evidences.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { App } from '../../src/http/types.ts';
import { auth, startApp } from '../support/app.ts';
import {
  authenticator,
  bearer,
  expect,
  passkeyLogin,
  passwordSession,
  person,
  registerPasskey,
  sessionAssertion,
  WEBAUTHN,
} from '../support/webauthn.ts';

const PASSWORD = 'a long enough passphrase 4711';

describe('a role directory requiring phishing-resistant evidence', () => {
  let app: App;
  let close: () => Promise<void>;
  let id: string;
  const { device } = authenticator();
  const check = async (sessionId: unknown) =>
    expect(200, app, 'POST', '/v1/authz/check', auth, {
      sessionId,
      privilege: 'app.wire-transfer',
    });
  before(async () => {
    ({ app, close } = await startApp('pr-roles', { webauthn: WEBAUTHN }));
    await expect(200, app, 'POST', '/v1/privileges', auth, { privilege: 'app.wire-transfer' });
    const dir = await expect(201, app, 'POST', '/v1/role-directories', auth, {
      name: 'treasury',
      phishingResistant: true,
    });
    const role = await expect(201, app, 'POST', '/v1/roles', auth, {
      name: 'treasurers',
      directoryId: dir.directoryId,
    });
    await expect(200, app, 'PUT', `/v1/roles/${String(role.roleId)}/grants`, auth, {
      privilege: 'app.wire-transfer',
      effect: 'grant',
    });
    id = await person(app, 'ann', PASSWORD);
    await expect(200, app, 'POST', `/v1/roles/${String(role.roleId)}/members`, auth, {
      principalId: id,
    });
    const elevated = await passwordSession(app, 'ann', PASSWORD, true);
    await registerPasskey(app, bearer(elevated), id, device);
  });
  after(() => close());

  it('does not count the membership in a password session', async () => {
    const login = await expect(
      200,
      app,
      'POST',
      '/v1/auth/login',
      {},
      {
        identity: 'ann',
        password: PASSWORD,
        transport: 'bearer',
      },
    );
    const answer = await check(login.sessionId);
    assert.equal(answer.allow, false);
    assert.deepEqual(answer.missingEvidences, ['phishing-resistant']);
  });

  it('counts it in a passkey session, and once a passkey is added to a password session', async () => {
    const passwordless = await passkeyLogin(app, device);
    assert.equal((await check(passwordless.body.sessionId)).allow, true);
    const login = await expect(
      200,
      app,
      'POST',
      '/v1/auth/login',
      {},
      {
        identity: 'ann',
        password: PASSWORD,
        transport: 'bearer',
      },
    );
    const token = String(login.token);
    const answer = await sessionAssertion(app, token, device);
    await expect(200, app, 'POST', '/v1/auth/passkeys/evidence', bearer(token), answer);
    assert.equal((await check(login.sessionId)).allow, true);
  });
});
