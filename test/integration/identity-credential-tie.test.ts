// An identity directory tied to credential directories (DESIGN.md section 7: "a directory may be
// tied to a credential directory, limiting which credentials its identities can use"): a login
// through such a directory counts only credentials of those directories, at the first step and
// at every later step of the session (an OTP added afterwards), and a password change in such a
// session replaces the password it counts. Untied directories use any.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { listenApp } from '../support/app.ts';
import { bearer, createUser, type Http, http, operator, operatorCall } from '../support/auth.ts';
import { oathTotp } from '../support/oathtool.ts';

const DEFAULT_PASSWORD = 'the everyday password';
const CORP_PASSWORD = 'the corporate password';

describe('identity directories tied to credential directories', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  before(async () => {
    ctx = await listenApp('tie');
    h = http(ctx.port);
  });
  after(() => ctx.close());

  const call = (method: string, path: string, body?: unknown, status = 200) =>
    operatorCall(h)(method, path, body, status);
  const login = (identity: string, directory: string, password: string) =>
    h.request('POST', '/v1/auth/login', {
      body: { identity, directory, password, transport: 'bearer' },
    });

  it('counts only the tied directories’ credentials, at login and at later steps', async () => {
    const userId = await createUser(h, 'carla', DEFAULT_PASSWORD);
    await call(
      'POST',
      '/v1/credential-directories',
      {
        directoryId: 'corp-passwords',
        name: 'corporate-passwords',
        kind: 'password',
        evidences: ['knowledge'],
      },
      201,
    );
    await call('PUT', `/v1/principals/${userId}/password`, {
      password: CORP_PASSWORD,
      directoryId: 'corp-passwords',
    });
    await call(
      'POST',
      '/v1/identity-directories',
      { directoryId: 'corp', name: 'corp', credentialDirectoryIds: ['corp-passwords'] },
      201,
    );
    await call(
      'POST',
      `/v1/principals/${userId}/identities`,
      { name: 'carla', directoryId: 'corp' },
      201,
    );
    const listed = await call('GET', '/v1/identity-directories');
    const corp = (listed.items as { id: string; credentialDirectoryIds: string[] | null }[]).find(
      (d) => d.id === 'corp',
    );
    assert.deepEqual(corp?.credentialDirectoryIds, ['corp-passwords']);

    // Through `corp` only the corporate password counts; through `internal` (untied) only the
    // default directory's.
    assert.equal((await login('carla', 'corp', DEFAULT_PASSWORD)).status, 401);
    assert.equal((await login('carla', 'internal', CORP_PASSWORD)).status, 401);
    assert.equal((await login('carla', 'internal', DEFAULT_PASSWORD)).status, 200);
    const viaCorp = await login('carla', 'corp', CORP_PASSWORD);
    assert.equal(viaCorp.status, 200, viaCorp.text);

    // An OTP of the `otp` directory is not among corp's: adding it to that session fails.
    const otp = await call('POST', `/v1/principals/${userId}/otp`, { name: 'phone' }, 201);
    await call('POST', `/v1/credentials/${otp.credentialId}/confirm`, {
      code: oathTotp(String(otp.secret), Date.now()),
    });
    const refused = await h.request('POST', '/v1/auth/evidence', {
      headers: bearer(String(viaCorp.body.token)),
      body: { otp: oathTotp(String(otp.secret), Date.now() + 30_000) },
    });
    assert.equal(refused.status, 401, refused.text);

    // Tie corp to the OTP directory too: a new session through corp can add it (the same code:
    // the refused attempt did not use it up).
    const changed = await call('PATCH', '/v1/identity-directories/corp', {
      credentialDirectoryIds: ['corp-passwords', 'otp'],
    });
    assert.deepEqual(changed.credentialDirectoryIds, ['corp-passwords', 'otp']);
    const again = await login('carla', 'corp', CORP_PASSWORD);
    assert.equal(again.status, 200, again.text);
    const added = await h.request('POST', '/v1/auth/evidence', {
      headers: bearer(String(again.body.token)),
      body: { otp: oathTotp(String(otp.secret), Date.now() + 30_000) },
    });
    assert.equal(added.status, 200, added.text);
    assert.deepEqual(
      (added.body.evidences as { evidence: string }[]).map((e) => e.evidence).sort(),
      ['knowledge', 'ownership'],
    );

    // A password change in a session through corp replaces the corporate password, the one
    // that session proved; the default directory's password stays as it was.
    const NEW_CORP_PASSWORD = 'the new corporate password';
    const changedPassword = await h.request('POST', '/v1/auth/password', {
      headers: bearer(String(added.body.token)), // rotated when the OTP was added
      body: { currentPassword: CORP_PASSWORD, newPassword: NEW_CORP_PASSWORD },
    });
    assert.equal(changedPassword.status, 200, changedPassword.text);
    assert.equal((await login('carla', 'corp', NEW_CORP_PASSWORD)).status, 200);
    assert.equal((await login('carla', 'corp', CORP_PASSWORD)).status, 401);
    assert.equal((await login('carla', 'internal', DEFAULT_PASSWORD)).status, 200);
    // Through corp, the default password is not the current one: the change is refused.
    const viaCorpAgain = await login('carla', 'corp', NEW_CORP_PASSWORD);
    const wrongDirectory = await h.request('POST', '/v1/auth/password', {
      headers: bearer(String(viaCorpAgain.body.token)),
      body: { currentPassword: DEFAULT_PASSWORD, newPassword: 'yet another password here' },
    });
    assert.equal(wrongDirectory.status, 401, wrongDirectory.text);

    // Untie: null means any again.
    const untied = await call('PATCH', '/v1/identity-directories/corp', {
      credentialDirectoryIds: null,
    });
    assert.equal(untied.credentialDirectoryIds, null);
  });

  it('refuses unknown credential directories and empty changes, changing nothing', async () => {
    const before = ctx.node.digest();
    const unknown = await h.request('PATCH', '/v1/identity-directories/internal', {
      headers: operator,
      body: { credentialDirectoryIds: ['no-such-directory'] },
    });
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(unknown.body.code, 'CREDENTIAL_DIRECTORY_NOT_FOUND');
    const empty = await h.request('PATCH', '/v1/identity-directories/internal', {
      headers: operator,
      body: {},
    });
    assert.equal(empty.status, 400, empty.text);
    const missing = await h.request('PATCH', '/v1/identity-directories/nowhere', {
      headers: operator,
      body: { credentialDirectoryIds: null },
    });
    assert.equal(missing.status, 404, missing.text);
    assert.equal(ctx.node.digest(), before);
  });
});
