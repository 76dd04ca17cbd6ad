// Evidence-gated roles over a real session (issue 5): a role in a directory that requires
// `ownership` counts for a session only after an OTP (from oathtool) was added to it, and stops
// counting when that evidence expires while the session itself lives on. Checks go through
// POST /v1/authz/check by session; the expiry is checked at a later `now` through the same
// functions the route calls, as no test should wait a minute for a clock.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { liveSession } from '../../src/authn/sessions/views.ts';
import { listenApp } from '../support/app.ts';
import { bearer, createUser, type Http, http, operatorCall } from '../support/auth.ts';
import { oathTotp } from '../support/oathtool.ts';

const PASSWORD = 'gated roles need a second factor';
const OTP_LIFETIME_S = 60;

describe('evidence-gated roles over a session', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  before(async () => {
    ctx = await listenApp('gated');
    h = http(ctx.port);
  });
  after(() => ctx.close());

  const call = (method: string, path: string, body?: unknown, status = 200) =>
    operatorCall(h)(method, path, body, status);

  it('switches on after OTP and off when the OTP evidence expires', async () => {
    const userId = await createUser(h, 'otto', PASSWORD);
    await call('POST', '/v1/privileges', { privilege: 'payments.approve' });
    const dir = await call(
      'POST',
      '/v1/role-directories',
      { name: 'approvers-dir', requiredEvidences: ['ownership'] },
      201,
    );
    const role = await call(
      'POST',
      '/v1/roles',
      { name: 'approvers', directoryId: dir.directoryId },
      201,
    );
    await call('PUT', `/v1/roles/${role.roleId}/grants`, {
      privilege: 'payments.approve',
      effect: 'grant',
    });
    await call('POST', `/v1/roles/${role.roleId}/members`, { principalId: userId });
    await call('PATCH', '/v1/credential-directories/otp', {
      evidenceLifetimeSeconds: OTP_LIFETIME_S,
    });
    const otp = await call('POST', `/v1/principals/${userId}/otp`, { name: 'phone' }, 201);
    await call('POST', `/v1/credentials/${otp.credentialId}/confirm`, {
      code: oathTotp(String(otp.secret), Date.now()),
    });

    const login = await h.request('POST', '/v1/auth/login', {
      body: { identity: 'otto', password: PASSWORD, transport: 'bearer' },
    });
    assert.equal(login.status, 200, login.text);
    const sessionId = String(login.body.sessionId);
    const check = () =>
      call('POST', '/v1/authz/check', { sessionId, privilege: 'payments.approve' });

    const before = await check();
    assert.equal(before.allow, false, 'password alone must not count for the gated role');
    assert.deepEqual(before.missingEvidences, ['ownership']);
    // By principal alone (no session) a gated role never counts either.
    const byPrincipal = await call('POST', '/v1/authz/check', {
      principalId: userId,
      privilege: 'payments.approve',
    });
    assert.equal(byPrincipal.allow, false);

    // The next time step's code: the confirmation consumed the current one.
    const added = await h.request('POST', '/v1/auth/evidence', {
      headers: bearer(String(login.body.token)),
      body: { otp: oathTotp(String(otp.secret), Date.now() + 30_000) },
    });
    assert.equal(added.status, 200, added.text);
    const on = await check();
    assert.equal(on.allow, true, JSON.stringify(on));
    assert.equal(on.role, role.roleId);

    // Past the OTP evidence's lifetime the session is still live (its password evidence too),
    // but the gated role no longer counts.
    const later = Date.now() + (OTP_LIFETIME_S + 5) * 1000;
    const session = liveSession(ctx.node.read, sessionId, later);
    assert.ok(session, 'the session itself outlives the OTP evidence');
    const held = new Set(session.evidences.map((e) => e.evidence));
    assert.deepEqual([...held].sort(), ['knowledge']);
    const off = ctx.node.authz.check({
      subject: { principalId: userId, evidences: held },
      privilege: 'payments.approve',
    });
    assert.equal(off.allow, false);
    assert.deepEqual(off.missingEvidences, ['ownership']);
  });
});
