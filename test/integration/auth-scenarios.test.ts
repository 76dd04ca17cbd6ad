// DESIGN.md section 7, scenarios 1 (identity + password, internal directory), 5 (an application
// with identity + password in `Authorization: Basic`) and 9 (elevation by password confirmation,
// and the same only from a subnet), end to end over real HTTP on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { listenApp } from '../support/app.ts';
import {
  basic,
  bearer,
  browser,
  cookiesOf,
  createUser,
  type Http,
  http,
  operator,
} from '../support/auth.ts';

const PASSWORD = 'correct horse battery staple';

describe('authentication scenarios over HTTP', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  let alice = '';
  before(async () => {
    ctx = await listenApp('auth-scenarios');
    h = http(ctx.port);
    alice = await createUser(h, 'alice', PASSWORD);
  });
  after(() => ctx.close());

  it('scenario 1: a browser logs in with identity and password and uses its session', async () => {
    const r = await h.request('POST', '/v1/auth/login', {
      body: { identity: 'Alice', password: PASSWORD },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.principalId, alice);
    assert.equal(r.body.complete, true);
    assert.equal(r.body.token, undefined, 'a browser never sees its token in the body');
    const setCookies = r.headers.getSetCookie().join('\n');
    assert.match(
      setCookies,
      /__Host-authlog-session=als_[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Strict/,
    );
    assert.match(setCookies, /__Host-authlog-csrf=/);
    const evidences = r.body.evidences as { evidence: string; method: string; expiresAt: string }[];
    assert.deepEqual(
      evidences.map((e) => [e.evidence, e.method]),
      [['knowledge', 'password']],
    );
    assert.ok(Date.parse(evidences[0]!.expiresAt) > Date.now());
    const headers = browser(cookiesOf(r.headers));
    const me = await h.request('GET', '/v1/auth/session', { headers });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.sessionId, r.body.sessionId);
    const list = await h.request('GET', '/v1/auth/sessions', { headers });
    assert.ok((list.body.items as unknown[]).length >= 1);
    const out = await h.request('POST', '/v1/auth/logout', { headers });
    assert.equal(out.status, 200, out.text);
    const after = await h.request('GET', '/v1/auth/session', { headers });
    assert.equal(after.status, 401, 'the session ended at logout');
  });

  it('scenario 1: a wrong password is refused, 401 AUTHENTICATION_FAILED', async () => {
    const r = await h.request('POST', '/v1/auth/login', {
      body: { identity: 'alice', password: 'not the password' },
    });
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'AUTHENTICATION_FAILED');
  });

  it('a password counts only inside its validity window and until revoked', async () => {
    const id = await createUser(h, 'vera', undefined);
    const hour = 3_600_000;
    const window = async (validFrom: string | null, validUntil: string | null) => {
      const r = await h.request('PUT', `/v1/principals/${id}/password`, {
        headers: operator,
        body: { password: PASSWORD, validFrom, validUntil },
      });
      assert.equal(r.status, 200, r.text);
      return String(r.body.credentialId);
    };
    const login = () =>
      h.request('POST', '/v1/auth/login', { body: { identity: 'vera', password: PASSWORD } });
    await window(null, new Date(Date.now() - hour).toISOString());
    assert.equal((await login()).status, 401, 'expired');
    await window(new Date(Date.now() + hour).toISOString(), null);
    assert.equal((await login()).status, 401, 'not yet valid');
    const credentialId = await window(null, new Date(Date.now() + hour).toISOString());
    assert.equal((await login()).status, 200, 'inside the window');
    const revoked = await h.request('DELETE', `/v1/credentials/${credentialId}`, {
      headers: operator,
    });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal((await login()).status, 401, 'revoked');
  });

  it('an application logs in for a bearer session token', async () => {
    const r = await h.request('POST', '/v1/auth/login', {
      body: { identity: 'alice', password: PASSWORD, transport: 'bearer' },
    });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.body.token), /^als_[A-Za-z0-9_-]{43}$/);
    const me = await h.request('GET', '/v1/auth/session', {
      headers: bearer(String(r.body.token)),
    });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.principalId, alice);
  });

  it('scenario 5: an application sends identity and password in Authorization: Basic', async () => {
    const app = await createUser(h, 'billing-app', 'a long application secret 42', 'service');
    const ok = await h.request('GET', `/v1/principals/${app}`, {
      headers: basic('billing-app', 'a long application secret 42'),
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.id, app);
    const wrong = await h.request('GET', `/v1/principals/${app}`, {
      headers: basic('billing-app', 'wrong secret'),
    });
    assert.equal(wrong.status, 401);
    const unknown = await h.request('GET', `/v1/principals/${app}`, {
      headers: basic('nobody', 'a long application secret 42'),
    });
    assert.equal(unknown.status, 401);
    // Basic never elevates: sensitive operations are refused.
    const issue = await h.request('POST', `/v1/principals/${app}/tokens`, {
      headers: basic('billing-app', 'a long application secret 42'),
      body: { name: 'ci' },
    });
    assert.equal(issue.status, 403, issue.text);
    assert.equal(issue.body.code, 'ELEVATION_REQUIRED');
  });

  it('scenario 9: elevation by password confirmation unlocks a sensitive operation', async () => {
    const login = await h.request('POST', '/v1/auth/login', {
      body: { identity: 'alice', password: PASSWORD },
    });
    let headers = browser(cookiesOf(login.headers));
    const before = await h.request('POST', `/v1/principals/${alice}/tokens`, {
      headers,
      body: { name: 'laptop' },
    });
    assert.equal(before.status, 403, before.text);
    assert.equal(before.body.code, 'ELEVATION_REQUIRED');
    const wrong = await h.request('POST', '/v1/auth/elevate', {
      headers,
      body: { password: 'not it at all' },
    });
    assert.equal(wrong.status, 401);
    const up = await h.request('POST', '/v1/auth/elevate', {
      headers,
      body: { password: PASSWORD },
    });
    assert.equal(up.status, 200, up.text);
    assert.ok(Date.parse(String(up.body.elevatedUntil)) > Date.now());
    const old = headers;
    headers = browser(cookiesOf(up.headers));
    assert.notEqual(headers.cookie, old.cookie, 'the token rotated');
    const stale = await h.request('GET', '/v1/auth/session', { headers: old });
    assert.equal(stale.status, 401, 'the token before elevation stopped working');
    const issued = await h.request('POST', `/v1/principals/${alice}/tokens`, {
      headers,
      body: { name: 'laptop' },
    });
    assert.equal(issued.status, 201, issued.text);
  });

  it('scenario 9: elevation only from a subnet, per policy', async () => {
    const bob = await createUser(h, 'bob', PASSWORD);
    const policy = await h.request('PUT', `/v1/auth/policies/principal/${bob}`, {
      headers: operator,
      body: { require: ['knowledge'], elevate: ['knowledge', 'location'] },
    });
    assert.equal(policy.status, 200, policy.text);
    const login = await h.request('POST', '/v1/auth/login', {
      body: { identity: 'bob', password: PASSWORD },
    });
    const headers = browser(cookiesOf(login.headers));
    // No subnet credential covers 127.0.0.1: the password alone does not elevate.
    const up = await h.request('POST', '/v1/auth/elevate', {
      headers,
      body: { password: PASSWORD },
    });
    assert.equal(up.status, 401, up.text);
  });
});

describe('session activity', () => {
  it('is recorded for other sites as SessionTouched, at most once per interval', async () => {
    const ctx = await listenApp('touch', { auth: { touchIntervalS: 0 } });
    try {
      const h = http(ctx.port);
      await createUser(h, 'tom', PASSWORD);
      const r = await h.request('POST', '/v1/auth/login', {
        body: { identity: 'tom', password: PASSWORD, transport: 'bearer' },
      });
      const headers = bearer(String(r.body.token));
      const touches = async () =>
        (await ctx.node.store.readAll({ streamPrefix: 'origin-' })).filter(
          (e) => e.type === 'SessionTouched',
        ).length;
      await new Promise((done) => setTimeout(done, 5));
      assert.equal((await h.request('GET', '/v1/auth/session', { headers })).status, 200);
      for (let i = 0; i < 50 && (await touches()) === 0; i++)
        await new Promise((done) => setTimeout(done, 10));
      assert.ok((await touches()) >= 1, 'activity replicated');
    } finally {
      await ctx.close();
    }
  });

  it('is not written on every request with the default interval', async () => {
    const ctx = await listenApp('no-touch');
    try {
      const h = http(ctx.port);
      await createUser(h, 'tess', PASSWORD);
      const r = await h.request('POST', '/v1/auth/login', {
        body: { identity: 'tess', password: PASSWORD, transport: 'bearer' },
      });
      for (let i = 0; i < 5; i++)
        await h.request('GET', '/v1/auth/session', { headers: bearer(String(r.body.token)) });
      const types = (await ctx.node.store.readAll({ streamPrefix: 'origin-' })).map((e) => e.type);
      assert.equal(types.filter((t) => t === 'SessionTouched').length, 0);
    } finally {
      await ctx.close();
    }
  });
});
