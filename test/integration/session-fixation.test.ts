// Threat: session fixation and stale tokens (OWASP ASVS 3.2.1, 3.3.1; NIST SP 800-63B 7.1): a
// token planted in a browser before login, or one captured before a step-up, must not become or
// stay a live session. Login always issues a new token; adding evidence and elevating rotate it,
// and the previous token stops working at once; logout and ending all sessions kill them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionByToken } from '../../src/authn/sessions/views.ts';
import { listenApp } from '../support/app.ts';
import { bearer, browser, cookiesOf, createUser, type Http, http } from '../support/auth.ts';

const PASSWORD = 'fixation is not an option';

describe('session fixation', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  before(async () => {
    ctx = await listenApp('fixation');
    h = http(ctx.port);
    await createUser(h, 'fay', PASSWORD);
  });
  after(() => ctx.close());

  const login = (headers: Record<string, string> = {}, transport = 'cookie') =>
    h.request('POST', '/v1/auth/login', {
      headers,
      body: { identity: 'fay', password: PASSWORD, transport },
    });

  it('a cookie planted before login is not adopted: login issues a fresh token', async () => {
    const planted = `als_${'A'.repeat(43)}`;
    const r = await login({ cookie: `__Host-authlog-session=${planted}` });
    assert.equal(r.status, 200, r.text);
    const issued = cookiesOf(r.headers)['__Host-authlog-session'];
    assert.ok(issued?.startsWith('als_'));
    assert.notEqual(issued, planted);
    const withPlanted = await h.request('GET', '/v1/auth/session', {
      headers: { cookie: `__Host-authlog-session=${planted}` },
    });
    assert.equal(withPlanted.status, 401);
  });

  it('two logins get two different tokens and sessions', async () => {
    const a = await login({}, 'bearer');
    const b = await login({}, 'bearer');
    assert.notEqual(a.body.token, b.body.token);
    assert.notEqual(a.body.sessionId, b.body.sessionId);
  });

  it('adding evidence rotates the token; the old one stops working', async () => {
    const r = await login({}, 'bearer');
    const old = String(r.body.token);
    const more = await h.request('POST', '/v1/auth/evidence', {
      headers: bearer(old),
      body: { password: PASSWORD },
    });
    assert.equal(more.status, 200, more.text);
    const fresh = String(more.body.token);
    assert.notEqual(fresh, old);
    assert.equal(more.body.sessionId, r.body.sessionId, 'the same session');
    assert.equal(
      (await h.request('GET', '/v1/auth/session', { headers: bearer(old) })).status,
      401,
    );
    assert.equal(
      (await h.request('GET', '/v1/auth/session', { headers: bearer(fresh) })).status,
      200,
    );
  });

  it('elevation rotates the cookie and the CSRF token', async () => {
    const r = await login();
    const before = browser(cookiesOf(r.headers));
    const up = await h.request('POST', '/v1/auth/elevate', {
      headers: before,
      body: { password: PASSWORD },
    });
    assert.equal(up.status, 200, up.text);
    const afterUp = browser(cookiesOf(up.headers));
    assert.notEqual(afterUp.cookie, before.cookie);
    assert.equal((await h.request('GET', '/v1/auth/session', { headers: before })).status, 401);
    assert.equal((await h.request('GET', '/v1/auth/session', { headers: afterUp })).status, 200);
  });

  it('a failed step does not rotate and does not end the session', async () => {
    const r = await login({}, 'bearer');
    const token = String(r.body.token);
    const bad = await h.request('POST', '/v1/auth/evidence', {
      headers: bearer(token),
      body: { password: 'not the password' },
    });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.token, undefined);
    assert.equal(
      (await h.request('GET', '/v1/auth/session', { headers: bearer(token) })).status,
      200,
    );
  });

  it('logout and end-all kill tokens; the token is stored only as its hash', async () => {
    const a = await login({}, 'bearer');
    const b = await login({}, 'bearer');
    const out = await h.request('POST', '/v1/auth/logout', {
      headers: bearer(String(a.body.token)),
    });
    assert.equal(out.status, 200);
    assert.equal(sessionByToken(ctx.node.read, String(a.body.token), Date.now()), undefined);
    const all = await h.request('POST', '/v1/auth/sessions/end-all', {
      headers: bearer(String(b.body.token)),
      body: {},
    });
    assert.equal(all.status, 200, all.text);
    assert.ok(Number(all.body.ended) >= 1);
    assert.equal(
      (await h.request('GET', '/v1/auth/session', { headers: bearer(String(b.body.token)) }))
        .status,
      401,
    );
    const log = JSON.stringify(
      (await ctx.node.store.readAll({ streamPrefix: 'origin-' })).map((e) => e.data),
    );
    assert.ok(!log.includes(String(b.body.token).slice(4)), 'a session token in the log');
  });
});
