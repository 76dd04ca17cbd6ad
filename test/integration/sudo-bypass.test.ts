// Threat: doing a sensitive operation without the recent re-authentication it needs (OWASP ASVS
// 3.7.1): with an administrator's unelevated session, with another session of the same principal
// that did elevate, with an access token or Basic credentials (which can never elevate), after
// the elevation expired, or after the password changed. Each must be refused with
// ELEVATION_REQUIRED (or, for elevating without a session, refused outright).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import { sessionByToken } from '../../src/authn/sessions/views.ts';
import { listenApp } from '../support/app.ts';
import { basic, bearer, createUser, type Http, http, operator } from '../support/auth.ts';

const PASSWORD = 'root has a long password';

describe('sudo mode cannot be bypassed', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  let root = '';
  let victim = '';
  before(async () => {
    ctx = await listenApp('sudo', { auth: { elevationS: 120 } });
    h = http(ctx.port);
    root = await createUser(h, 'root', PASSWORD);
    victim = await createUser(h, 'victim', 'victim password 123');
    const member = await h.request('POST', `/v1/roles/${ADMINISTRATORS_ROLE}/members`, {
      headers: operator,
      body: { principalId: root },
    });
    assert.equal(member.status, 200, member.text);
  });
  after(() => ctx.close());

  const session = async () => {
    const r = await h.request('POST', '/v1/auth/login', {
      body: { identity: 'root', password: PASSWORD, transport: 'bearer' },
    });
    assert.equal(r.status, 200, r.text);
    return String(r.body.token);
  };
  const elevate = async (token: string, password = PASSWORD) =>
    h.request('POST', '/v1/auth/elevate', { headers: bearer(token), body: { password } });

  /** Every sensitive operation, as (method, path, body). */
  const sensitive = (): [string, string, unknown][] => [
    ['PUT', `/v1/principals/${victim}/password`, { password: 'a brand new password 9' }],
    ['POST', `/v1/roles/${ADMINISTRATORS_ROLE}/members`, { principalId: victim }],
    [
      'PUT',
      `/v1/roles/${ADMINISTRATORS_ROLE}/grants`,
      { privilege: 'authlog.replicate', effect: 'revoke' },
    ],
    ['POST', `/v1/principals/${victim}/tokens`, { name: 'stolen' }],
    ['POST', `/v1/principals/${victim}/sessions/end`, {}],
    ['PUT', `/v1/auth/policies/principal/${victim}`, { require: [] }],
    ['POST', `/v1/principals/${victim}/unlock`, {}],
  ];

  const refusedAll = async (headers: Record<string, string>, code = 'ELEVATION_REQUIRED') => {
    for (const [method, path, body] of sensitive()) {
      const r = await h.request(method, path, { headers, body });
      assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
      assert.equal(r.body.code, code, `${method} ${path}`);
    }
  };

  it('an administrator session that has not elevated is refused every sensitive operation', async () => {
    await refusedAll(bearer(await session()));
  });

  it('elevating one session does not elevate another of the same principal', async () => {
    const a = await session();
    const b = await session();
    const up = await elevate(a);
    assert.equal(up.status, 200, up.text);
    await refusedAll(bearer(b));
    const token = String(up.body.token);
    const r = await h.request('POST', `/v1/principals/${victim}/tokens`, {
      headers: bearer(token),
      body: { name: 'allowed' },
    });
    assert.equal(r.status, 201, r.text);
  });

  it('access tokens and Basic credentials can neither do it nor elevate', async () => {
    const issued = await h.request('POST', `/v1/principals/${root}/tokens`, {
      headers: operator,
      body: { name: 'root-ci' },
    });
    assert.equal(issued.status, 201, issued.text);
    const token = bearer(String(issued.body.token));
    await refusedAll(token);
    const up = await h.request('POST', '/v1/auth/elevate', {
      headers: token,
      body: { password: PASSWORD },
    });
    assert.notEqual(up.status, 200, up.text);
    await refusedAll(basic('root', PASSWORD));
    const upBasic = await h.request('POST', '/v1/auth/elevate', {
      headers: basic('root', PASSWORD),
      body: { password: PASSWORD },
    });
    assert.notEqual(upBasic.status, 200, upBasic.text);
  });

  it('a wrong password does not elevate, and counts as a failure', async () => {
    const token = await session();
    const r = await elevate(token, 'not the right one');
    assert.equal(r.status, 401);
    await refusedAll(bearer(token));
    const state = await h.request('GET', `/v1/principals/${root}/lockout`, { headers: operator });
    assert.ok(Number(state.body.failures) >= 1, state.text);
  });

  it('elevation ends at its own expiry, before the session does', async () => {
    const token = await session();
    const up = await elevate(token);
    const fresh = String(up.body.token);
    const now = Date.now();
    assert.notEqual(sessionByToken(ctx.node.read, fresh, now)?.elevatedUntil ?? null, null);
    const later = sessionByToken(
      ctx.node.read,
      fresh,
      now + 121_000,
      new Map([[String(up.body.sessionId), now + 120_000]]),
    );
    assert.ok(later, 'the session lives on');
    assert.equal(later.elevatedUntil, null, 'the elevation is over');
  });

  it('a password change ends the elevation', async () => {
    const token = String((await elevate(await session())).body.token);
    assert.notEqual(sessionByToken(ctx.node.read, token, Date.now())?.elevatedUntil ?? null, null);
    const set = await h.request('PUT', `/v1/principals/${root}/password`, {
      headers: operator,
      body: { password: 'root changed the password' },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal(sessionByToken(ctx.node.read, token, Date.now())?.elevatedUntil, null);
    await refusedAll(bearer(token));
  });
});
