// Threat: cross-site request forgery against cookie sessions: another site making a logged-in
// browser send a state-changing request (OWASP CSRF Prevention Cheat Sheet; ASVS 4.2.2, 3.4).
// Sessions arrive with the authentication issue; here a test session lookup plugs into the same
// interface, and the real routes are driven with the session cookie. Also: the cookie flags the
// helper sets, and that a safe method can never change state.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import type { SessionContext } from '../../src/http/authenticate.ts';
import { run } from '../../src/http/command.ts';
import { CSRF_COOKIE, SESSION_COOKIE, setHostCookie } from '../../src/http/cookies.ts';
import { CSRF_HEADER } from '../../src/http/csrf.ts';
import { newId } from '../../src/node/node.ts';
import { auth, startApp } from '../support/app.ts';

const ACCOUNTING = new Set(['AuditRead', 'AccessDenied']);

import { operationsOf } from '../support/hostile.ts';

// Both sessions belong to an administrator, so what is refused is refused for CSRF alone.
const SESSIONS = new Map<string, SessionContext>([
  ['cookie-value-of-session-a', { sessionId: 'sess-a', principalId: 'root' }],
  ['cookie-value-of-session-b', { sessionId: 'sess-b', principalId: 'root' }],
]);
const cookieA = { cookie: `__Host-${SESSION_COOKIE}=cookie-value-of-session-a` };
const cookieB = { cookie: `__Host-${SESSION_COOKIE}=cookie-value-of-session-b` };
const SITE = 'http://localhost:80';

describe('CSRF protection of cookie sessions', () => {
  let ctx: Awaited<ReturnType<typeof startApp>>;
  let tokenA = '';
  before(async () => {
    ctx = await startApp('csrf', {
      sessions: (token) => SESSIONS.get(token),
      edge: { allowedOrigins: ['https://admin.example.org'] },
      configure: (app) =>
        app.register(async (test) => {
          // What the authentication issue's login will do: set both cookies.
          test.post(
            '/v1/test/login',
            {
              config: { public: true },
              schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } },
            },
            async (_request, reply) => {
              setHostCookie(reply, SESSION_COOKIE, 'cookie-value-of-session-a', {
                maxAgeSeconds: 3600,
              });
              test.csrf.issue(reply, 'sess-a');
              return { ok: true };
            },
          );
          // A buggy handler that writes on GET: the guard must stop it before anything lands.
          test.get(
            '/v1/test/write-on-get',
            { schema: { response: { 200: Type.Object({ principalId: Type.String() }) } } },
            async (request, reply) =>
              run(
                request,
                reply,
                registerPrincipal({ principalId: newId(), kind: 'person', briefName: 'Mallory' }),
              ),
          );
        }),
    });
    tokenA = ctx.app.csrf.tokenFor('sess-a');
    for (const [url, payload] of [
      ['/v1/principals', { principalId: 'root', briefName: 'Root' }],
      [`/v1/roles/${ADMINISTRATORS_ROLE}/members`, { principalId: 'root' }],
    ] as const) {
      const r = await ctx.app.inject({ method: 'POST', url, headers: auth, payload });
      assert.ok(r.statusCode < 300, r.body);
    }
  });
  after(() => ctx.close());

  const write = (headers: Record<string, string>, briefName = 'Eve') =>
    ctx.app.inject({
      method: 'POST',
      url: '/v1/principals',
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify({ briefName }),
    });

  const refused = async (headers: Record<string, string>, code: string) => {
    const before = ctx.node.digest();
    const r = await write(headers);
    assert.equal(r.statusCode, 403, `${JSON.stringify(headers)} → ${r.statusCode} ${r.body}`);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
    assert.equal(r.json().code, code);
    assert.equal(ctx.node.digest(), before, 'a refused request changed state');
  };

  it('login sets __Host- cookies: Secure, Path=/, no Domain, SameSite=Strict; session HttpOnly', async () => {
    const r = await ctx.app.inject({ method: 'POST', url: '/v1/test/login' });
    assert.equal(r.statusCode, 200, r.body);
    const raw = r.headers['set-cookie'];
    const cookies = (Array.isArray(raw) ? raw : [String(raw)]).map((c) => c.split(/;\s*/));
    const find = (name: string) => cookies.find(([pair]) => pair?.startsWith(`__Host-${name}=`));
    const session = find(SESSION_COOKIE);
    const csrf = find(CSRF_COOKIE);
    assert.ok(session && csrf, `cookies: ${JSON.stringify(raw)}`);
    for (const attrs of [session, csrf]) {
      assert.ok(attrs.includes('Secure'), `${attrs[0]} not Secure`);
      assert.ok(attrs.includes('Path=/'), `${attrs[0]} not Path=/`);
      assert.ok(attrs.includes('SameSite=Strict'), `${attrs[0]} not SameSite=Strict`);
      assert.ok(!attrs.some((a) => /^domain=/i.test(a)), `${attrs[0]} has a Domain`);
    }
    assert.ok(session.includes('HttpOnly'), 'the session cookie is readable by script');
    assert.ok(!csrf.includes('HttpOnly'), 'the page cannot read its CSRF token');
    assert.ok(session.includes('Max-Age=3600'));
    assert.equal(csrf[0], `__Host-${CSRF_COOKIE}=${tokenA}`);
    assert.equal(r.headers['cache-control'], 'no-store');
  });

  it('the helper refuses cookie values that would need escaping', () => {
    const reply = { setCookie: () => undefined } as unknown as Parameters<typeof setHostCookie>[0];
    assert.throws(() => setHostCookie(reply, SESSION_COOKIE, 'a;b'), /not allowed/);
    assert.throws(() => setHostCookie(reply, 'bad name', 'v'), /not allowed/);
  });

  it('a cookie-authenticated write needs the session-bound token', async () => {
    await refused({ ...cookieA }, 'CSRF_TOKEN_INVALID');
    await refused({ ...cookieA, [CSRF_HEADER]: '' }, 'CSRF_TOKEN_INVALID');
    await refused({ ...cookieA, [CSRF_HEADER]: `${tokenA}x` }, 'CSRF_TOKEN_INVALID');
    // Session B's cookie with session A's token: the token is bound to its session.
    await refused({ ...cookieB, [CSRF_HEADER]: tokenA }, 'CSRF_TOKEN_INVALID');
    const ok = await write({ ...cookieA, [CSRF_HEADER]: tokenA }, 'Ann');
    assert.equal(ok.statusCode, 201, ok.body);
  });

  it('a cross-site request is refused by Fetch Metadata, even with a valid token', async () => {
    await refused(
      { ...cookieA, [CSRF_HEADER]: tokenA, 'sec-fetch-site': 'cross-site' },
      'CROSS_SITE_REQUEST',
    );
    await refused(
      {
        ...cookieA,
        [CSRF_HEADER]: tokenA,
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'navigate',
        'sec-fetch-dest': 'document',
      },
      'CROSS_SITE_REQUEST',
    );
    for (const site of ['same-origin', 'same-site', 'none']) {
      const r = await write({ ...cookieA, [CSRF_HEADER]: tokenA, 'sec-fetch-site': site }, site);
      assert.equal(r.statusCode, 201, `${site}: ${r.body}`);
    }
  });

  it('a write from a foreign origin is refused; our own and allowed origins pass', async () => {
    await refused(
      { ...cookieA, [CSRF_HEADER]: tokenA, origin: 'https://evil.example' },
      'ORIGIN_NOT_ALLOWED',
    );
    await refused({ ...cookieA, [CSRF_HEADER]: tokenA, origin: 'null' }, 'ORIGIN_NOT_ALLOWED');
    await refused(
      { ...cookieA, [CSRF_HEADER]: tokenA, origin: 'http://localhost:80.evil.example' },
      'ORIGIN_NOT_ALLOWED',
    );
    for (const origin of [SITE, 'https://admin.example.org']) {
      const r = await write({ ...cookieA, [CSRF_HEADER]: tokenA, origin }, 'Bo');
      assert.equal(r.statusCode, 201, `${origin}: ${r.body}`);
    }
  });

  it('an anonymous write (login) is refused cross-site and from a foreign origin', async () => {
    for (const headers of [
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'https://evil.example' },
    ]) {
      const r = await ctx.app.inject({ method: 'POST', url: '/v1/test/login', headers });
      assert.equal(r.statusCode, 403, `${JSON.stringify(headers)}: ${r.body}`);
      assert.equal(r.headers['set-cookie'], undefined, 'a session cookie was set anyway');
    }
  });

  it('bearer requests are exempt: no browser attaches an Authorization header by itself', async () => {
    const r = await write(
      { ...auth, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      'Cy',
    );
    assert.equal(r.statusCode, 201, r.body);
  });

  it('an unknown session cookie is no credential', async () => {
    const r = await write({
      cookie: `__Host-${SESSION_COOKIE}=forged`,
      [CSRF_HEADER]: ctx.app.csrf.tokenFor('forged'),
    });
    assert.equal(r.statusCode, 401, r.body);
  });

  it('GET never changes state: every GET route, cross-site or not, with or without token', async () => {
    const ops = operationsOf((await ctx.app.inject({ url: '/openapi.json' })).json());
    const gets = ops.filter((o) => o.method === 'GET' && !o.path.startsWith('/v1/test/'));
    const head = await ctx.node.store.headPosition();
    for (const op of gets) {
      const url = op.path.replace(/\{[^}]+\}/g, 'anonymous');
      for (const extra of [
        {},
        {
          'sec-fetch-site': 'cross-site',
          'sec-fetch-mode': 'navigate',
          'sec-fetch-dest': 'document',
        },
        { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
      ]) {
        const r = await ctx.app.inject({ url, headers: { ...cookieA, ...extra } });
        assert.ok(r.statusCode < 500, `${url} → ${r.statusCode} ${r.body}`);
        if (extra['sec-fetch-dest'] === 'image' && url.startsWith('/v1/'))
          assert.equal(r.statusCode, 403, `${url}: cross-site subresource with the cookie`);
      }
    }
    // The only writes a GET may cause are the trail's own records (DESIGN.md section 9: reading
    // the audit trail and refusals are recorded); they grant nothing to whoever caused them.
    const written = await ctx.node.store.readAll({
      ...(head === undefined ? {} : { after: head }),
      maxCount: 10_000,
    });
    const types = new Set(written.map((r) => r.type));
    for (const t of types) assert.ok(ACCOUNTING.has(t), `a GET recorded ${t}`);
  });

  it('a handler that tries to write on GET fails without writing, and says nothing internal', async () => {
    const before = ctx.node.digest();
    const r = await ctx.app.inject({ url: '/v1/test/write-on-get', headers: auth });
    assert.equal(r.statusCode, 500);
    assert.equal(r.json().code, 'INTERNAL');
    assert.doesNotMatch(r.body, /safe method|must not|\.ts|Error/);
    assert.equal(ctx.node.digest(), before);
  });
});
