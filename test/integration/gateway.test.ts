// Threat: identity assertion by header — a client naming itself in `Remote-User`, a gateway's
// assertion standing in for MFA a policy requires, or a page on another site riding on a
// gateway-authenticated browser (scenario 10; OWASP ASVS 1.4.2, 4.2.2). Real sockets on loopback,
// so the socket peer is real.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { deactivatePrincipal, registerPrincipal } from '../../src/authn/principals.ts';
import { auth, listenApp } from '../support/app.ts';

type Server = Awaited<ReturnType<typeof listenApp>>;

describe('trusted gateway (Remote-User)', () => {
  let gw: Server;
  let corp: Server;
  const get = (s: Server, path: string, headers: Record<string, string>) =>
    fetch(`http://127.0.0.1:${s.port}${path}`, { headers });

  before(async () => {
    gw = await listenApp('gateway', { edge: { gatewayCidrs: ['127.0.0.1/32'] } });
    corp = await listenApp('gateway-corp', {
      edge: { gatewayCidrs: ['127.0.0.1/32'], gatewayDirectory: 'corp' },
    });
    for (const s of [gw, corp])
      for (const id of ['pat', 'mfa', 'gone'])
        await s.node.execute(
          registerPrincipal({
            principalId: id,
            kind: 'person',
            briefName: id,
            identity: { identityId: `i-${id}`, directoryId: 'internal', name: id.toUpperCase() },
          }),
          { actor: 'system' },
        );
    await gw.node.execute(deactivatePrincipal({ principalId: 'gone' }), { actor: 'system' });
    const policy = await gw.app.inject({
      method: 'PUT',
      url: '/v1/auth/policies/principal/mfa',
      headers: auth,
      payload: { require: ['knowledge', 'ownership'] },
    });
    assert.equal(policy.statusCode, 200, policy.body);
  });
  after(async () => {
    await gw.close();
    await corp.close();
  });

  it('names an active identity of the configured directory (normalized like a login)', async () => {
    const res = await get(gw, '/v1/principals/pat/credentials', { 'remote-user': 'pat' });
    assert.equal(res.status, 200, await res.text());
    const other = await get(gw, '/v1/principals/mfa/credentials', { 'remote-user': 'Pat' });
    assert.equal(other.status, 403, 'pat reading mfa');
    for (const name of ['gone', 'nobody', 'pat, mfa'])
      assert.equal(
        (await get(gw, '/v1/principals/pat/credentials', { 'remote-user': name })).status,
        401,
        name,
      );
    const elsewhere = await get(corp, '/v1/principals/pat/credentials', { 'remote-user': 'pat' });
    assert.equal(elsewhere.status, 401, 'pat is in internal, the gateway names corp identities');
  });

  it('does not stand in for evidence a policy requires (MFA)', async () => {
    const res = await get(gw, '/v1/principals/mfa/credentials', { 'remote-user': 'mfa' });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { code: string }).code, 'EVIDENCE_REQUIRED');
  });

  it('an explicit credential wins over the header', async () => {
    const res = await get(gw, '/v1/principals/mfa/credentials', { ...auth, 'remote-user': 'pat' });
    assert.equal(res.status, 200, 'the operator token, not pat');
  });

  it('is an ambient credential: cross-site writes are refused before anything runs', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.port}/v1/principals/pat/subnets`, {
      method: 'POST',
      headers: {
        'remote-user': 'pat',
        'sec-fetch-site': 'cross-site',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'x', cidrs: ['10.0.0.0/8'] }),
    });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { code: string }).code, 'CROSS_SITE_REQUEST');
    const same = await fetch(`http://127.0.0.1:${gw.port}/v1/principals/pat/subnets`, {
      method: 'POST',
      headers: { 'remote-user': 'pat', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', cidrs: ['10.0.0.0/8'] }),
    });
    assert.equal(
      ((await same.json()) as { code: string }).code,
      'ELEVATION_REQUIRED',
      'and credential changes need an elevated session, which a header is not',
    );
  });
});

// Logging in through the gateway (issue 17 item 6): POST /v1/auth/gateway-login turns the
// gateway's Remote-User into a session, through the same Login command as a password login.
// Threats: a client naming itself to get a session (ASVS 5.0 V4.1.3 / 1.4.2: identity headers only
// from the trusted intermediary), telling who exists by the answer (ASVS 2.2.1, one answer for
// every failure), guessing past lockout and throttling, and a gateway session standing in for the
// password confirmation that elevation asks (ASVS 5.0 V7.5 re-authentication, NIST SP 800-63B
// rev 4 7.1 on sensitive operations).
describe('gateway login (POST /v1/auth/gateway-login)', () => {
  const PASSWORD = 'pat passphrase 2468';
  const logs: string[] = [];
  let gw: Server;
  let plain: Server;
  let tight: Server;
  const login = (s: Server, headers: Record<string, string>, transport = 'bearer') =>
    fetch(`http://127.0.0.1:${s.port}/v1/auth/gateway-login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ transport }),
    });
  const reasons = (s: Server, principalId: string | null) =>
    s.node.read
      .all(
        "SELECT summary FROM audit WHERE type = 'AuthenticationFailed' AND summary LIKE ? ORDER BY hlc",
        `%${principalId === null ? 'reason=unknown-identity' : `principalId=${principalId}`}%`,
      )
      .map((r) => /reason=(\S+)/.exec(String(r.summary))?.[1]);

  before(async () => {
    gw = await listenApp('gwlogin', { edge: { gatewayCidrs: ['127.0.0.1/32'] } });
    plain = await listenApp('gwlogin-plain', {
      logger: pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) }),
    });
    tight = await listenApp('gwlogin-tight', {
      edge: { gatewayCidrs: ['127.0.0.1/32'], authRateLimit: { max: 3, windowMs: 60_000 } },
    });
    for (const s of [gw, plain, tight])
      for (const id of ['pat', 'mfa', 'gone', 'lou'])
        await s.node.execute(
          registerPrincipal({
            principalId: id,
            kind: 'person',
            briefName: id,
            identity: { identityId: `i-${id}`, directoryId: 'internal', name: id },
          }),
          { actor: 'system' },
        );
    await gw.node.execute(deactivatePrincipal({ principalId: 'gone' }), { actor: 'system' });
    for (const [url, payload] of [
      ['/v1/principals/pat/password', { password: PASSWORD }],
      ['/v1/principals/lou/password', { password: PASSWORD }],
      ['/v1/auth/policies/principal/mfa', { require: ['knowledge', 'ownership'] }],
    ] as const) {
      const res = await gw.app.inject({ method: 'PUT', url, headers: auth, payload });
      assert.equal(res.statusCode, 200, res.body);
    }
  });
  after(async () => {
    for (const s of [gw, plain, tight]) await s.close();
  });

  it('starts a session from the gateway, with trust evidence (method gateway)', async () => {
    const res = await login(gw, { 'remote-user': 'PAT' });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.principalId, 'pat');
    assert.equal(body.complete, true);
    const evidences = body.evidences as {
      evidence: string;
      method: string;
      credentialId: string;
    }[];
    assert.deepEqual(
      evidences.map((e) => [e.evidence, e.method, e.credentialId]),
      [['trust', 'gateway', 'gateway']],
    );
    // The session works without the header: it is a session, not a per-request assertion.
    const session = await fetch(`http://127.0.0.1:${gw.port}/v1/auth/session`, {
      headers: { authorization: `Bearer ${String(body.token)}` },
    });
    assert.equal(session.status, 200);
    assert.equal(((await session.json()) as { principalId: string }).principalId, 'pat');
    // A browser gets the cookie and its CSRF token, like any login.
    const cookie = await login(gw, { 'remote-user': 'pat' }, 'cookie');
    assert.equal(cookie.status, 200);
    assert.match(cookie.headers.getSetCookie().join('\n'), /__Host-authlog-session=/);
    // A policy asking for more (MFA) leaves it incomplete until that is added.
    const mfa = (await (await login(gw, { 'remote-user': 'mfa' })).json()) as {
      complete: boolean;
      missing: string[];
    };
    assert.equal(mfa.complete, false);
    assert.deepEqual(mfa.missing, ['knowledge', 'ownership']);
  });

  it('is refused from a peer that is not the gateway: header logged, no session', async () => {
    const res = await login(plain, { 'remote-user': 'pat' });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'AUTHENTICATION_FAILED');
    assert.ok(
      logs.some((l) => /Remote-User header from a peer outside/.test(l)),
      logs.join('\n'),
    );
    const sessions = await plain.app.inject({ url: '/v1/principals/pat/sessions', headers: auth });
    assert.deepEqual((sessions.json() as { items: unknown[] }).items, []);
    const none = await login(gw, {});
    assert.equal(none.status, 401, 'no Remote-User at all');
  });

  it('refuses unknown and inactive principals alike, recording why', async () => {
    const answers = [];
    for (const name of ['nobody', 'gone']) {
      const res = await login(gw, { 'remote-user': name });
      const {
        instance: _,
        requestId: __,
        ...problem
      } = (await res.json()) as Record<string, unknown>;
      answers.push([res.status, problem]);
    }
    assert.deepEqual(answers[0], answers[1]);
    assert.equal(answers[0]?.[0], 401);
    assert.deepEqual(reasons(gw, 'gone'), ['inactive']);
    assert.deepEqual(reasons(gw, null), ['unknown-identity']);
  });

  it('cannot elevate without a password confirmation', async () => {
    const body = (await (await login(gw, { 'remote-user': 'pat' })).json()) as { token: string };
    const bearer = { authorization: `Bearer ${body.token}`, 'content-type': 'application/json' };
    const subnet = await fetch(`http://127.0.0.1:${gw.port}/v1/principals/pat/subnets`, {
      method: 'POST',
      headers: bearer,
      body: JSON.stringify({ name: 'x', cidrs: ['10.0.0.0/8'] }),
    });
    assert.equal(((await subnet.json()) as { code: string }).code, 'ELEVATION_REQUIRED');
    const elevate = (payload: unknown) =>
      fetch(`http://127.0.0.1:${gw.port}/v1/auth/elevate`, {
        method: 'POST',
        headers: { ...bearer, 'remote-user': 'pat' },
        body: JSON.stringify(payload),
      });
    // The gateway's assertion, sent again, is no confirmation; nor is a wrong password.
    assert.equal((await elevate({})).status, 401);
    assert.equal((await elevate({ password: 'not the passphrase' })).status, 401);
    const up = await elevate({ password: PASSWORD });
    assert.equal(up.status, 200);
    assert.notEqual(((await up.json()) as { elevatedUntil: unknown }).elevatedUntil, null);
  });

  it('is locked out and throttled like a login', async () => {
    for (let i = 0; i < 10; i++) {
      const res = await gw.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { identity: 'lou', password: `wrong guess ${i}`, transport: 'bearer' },
      });
      assert.equal(res.statusCode, 401);
    }
    const locked = await login(gw, { 'remote-user': 'lou' });
    assert.equal(locked.status, 401);
    assert.equal(reasons(gw, 'lou').at(-1), 'locked');
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await login(tight, { 'remote-user': 'pat' })).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
  });
});
