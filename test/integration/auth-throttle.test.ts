// Threat: online guessing through any way in, and locking the owner out from outside (issue 14
// row 4; NIST SP 800-63B rev 4 3.2.2; OWASP ASVS 5.0 6.1.1, 6.3.1, 6.3.3; OWASP "Slow Down Online
// Guessing Attacks with Device Cookies"). Basic, guessed bearer and session tokens, reset and
// verification codes are throttled like /v1/auth/login, before any argon2 run or event; anonymous
// failures lock an account for unknown clients only: a browser holding the device cookie of an
// earlier login, an application sending its device token, and a Basic client from an address it
// succeeded from still get in. The device token is bound to its principal and cannot be forged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { lockoutState } from '../../src/authn/lockout.ts';
import { auth, startApp } from '../support/app.ts';

const PASSWORD = 'a long and right passphrase';
const THRESHOLD = 3;
const LIMIT = 20;
const DEVICE = '__Host-authlog-device';

type Ctx = Awaited<ReturnType<typeof startApp>>;

const basicHeader = (identity: string, password: string) =>
  `Basic ${Buffer.from(`${identity}:${password}`).toString('base64')}`;

const setCookies = (headers: Record<string, unknown>): Record<string, string> => {
  const raw = headers['set-cookie'];
  const lines = Array.isArray(raw) ? raw : raw === undefined ? [] : [String(raw)];
  const out: Record<string, string> = {};
  for (const line of lines) {
    const [pair = ''] = String(line).split(';');
    const eq = pair.indexOf('=');
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
};

const helpers = (ctx: Ctx) => {
  const createUser = async (name: string, kind: 'person' | 'service' = 'person') => {
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/v1/principals',
      headers: auth,
      payload: { briefName: name, kind, identity: { name } },
    });
    assert.equal(created.statusCode, 201, created.body);
    const id = String(created.json().principalId);
    const set = await ctx.app.inject({
      method: 'PUT',
      url: `/v1/principals/${id}/password`,
      headers: auth,
      payload: { password: PASSWORD },
    });
    assert.equal(set.statusCode, 200, set.body);
    return id;
  };
  const login = (
    identity: string,
    password: string,
    remoteAddress: string,
    headers: Record<string, string> = {},
    transport: 'cookie' | 'bearer' = 'cookie',
  ) =>
    ctx.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { identity, password, transport },
      headers,
      remoteAddress,
    });
  const basic = (identity: string, password: string, remoteAddress: string, extra = {}) =>
    ctx.app.inject({
      url: '/v1/auth/sessions',
      headers: { authorization: basicHeader(identity, password), ...extra },
      remoteAddress,
    });
  const events = async (type: string) =>
    (await ctx.node.store.readAll({ streamPrefix: 'origin-' })).filter((e) => e.type === type);
  return { createUser, login, basic, events };
};

describe('one throttle for every way to authenticate', () => {
  let ctx: Ctx;
  let h: ReturnType<typeof helpers>;
  before(async () => {
    ctx = await startApp('throttle', {
      edge: { authRateLimit: { max: LIMIT, windowMs: 60_000 } },
      auth: { lockoutThreshold: THRESHOLD },
    });
    h = helpers(ctx);
  });
  after(() => ctx.close());

  it('row 4: 30 Basic guesses for unknown identities from one address: 429 after the login limit, one argon2 run and one event each before it', async () => {
    const before = (await h.events('AuthenticationFailed')).length;
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push((await h.basic(`ghost${i}`, 'wrong', '192.0.2.30')).statusCode);
    assert.deepEqual(statuses, [...Array(LIMIT).fill(401), ...Array(30 - LIMIT).fill(429)]);
    // Each attempt past the throttle verified a dummy hash and wrote one failure; none after it.
    const after = (await h.events('AuthenticationFailed')).length;
    assert.equal(after - before, LIMIT);
    // One bucket per address: the login route is closed to this address too.
    assert.equal((await h.login('ghost', 'wrong', '192.0.2.30')).statusCode, 429);
    const refused = await h.basic('ghost', 'wrong', '192.0.2.30');
    assert.equal(refused.json().code, 'RATE_LIMITED');
    assert.ok(Number(refused.headers['retry-after']) > 0);
    // A neighbour is not affected.
    assert.equal((await h.basic('ghost', 'wrong', '192.0.2.31')).statusCode, 401);
  });

  it('Basic guesses against one account from many addresses: 429 after the per-account limit', async () => {
    const id = await h.createUser('target-svc', 'service');
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 3; i++)
      statuses.push((await h.basic('target-svc', `wrong ${i}`, `198.18.0.${i + 1}`)).statusCode);
    assert.deepEqual(statuses.slice(LIMIT), [429, 429, 429]);
    assert.ok(statuses.slice(0, LIMIT).every((s) => s === 401));
    assert.ok(lockoutState(ctx.node.read, id, Date.now()).lockedUntil !== null);
  });

  it('guessed bearer and session tokens from one address get 429, and are then not looked up', async () => {
    const id = await h.createUser('tokened');
    const session = await h.login('tokened', PASSWORD, '192.0.2.40', {}, 'bearer');
    assert.equal(session.statusCode, 200, session.body);
    const token = String(session.json().token);
    const guess = (i: number, kind: 'bearer' | 'cookie') =>
      ctx.app
        .inject({
          url: '/v1/auth/sessions',
          headers:
            kind === 'bearer'
              ? { authorization: `Bearer alt_${String(i).padStart(43, 'x')}` }
              : { cookie: `__Host-authlog-session=als_${String(i).padStart(43, 'y')}` },
          remoteAddress: '192.0.2.41',
        })
        .then((r) => r.statusCode);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i++) statuses.push(await guess(i, i % 2 ? 'bearer' : 'cookie'));
    assert.ok(statuses.every((s) => s === 401));
    assert.equal(await guess(99, 'bearer'), 429);
    assert.equal(await guess(98, 'cookie'), 429);
    // Not looked up: even the right token is refused from that address until the window ends.
    const right = await ctx.app.inject({
      url: '/v1/auth/sessions',
      headers: { authorization: `Bearer ${token}` },
      remoteAddress: '192.0.2.41',
    });
    assert.equal(right.statusCode, 429);
    // Elsewhere it works; and a stale cookie never keeps anyone from the login route.
    const elsewhere = await ctx.app.inject({
      url: '/v1/auth/sessions',
      headers: { authorization: `Bearer ${token}` },
      remoteAddress: '192.0.2.42',
    });
    assert.equal(elsewhere.statusCode, 200);
    const relogin = await h.login('tokened', PASSWORD, '192.0.2.41', {
      cookie: `__Host-authlog-session=als_${'z'.repeat(43)}`,
    });
    assert.equal(relogin.statusCode, 200, relogin.body);
    assert.equal(lockoutState(ctx.node.read, id, Date.now()).failures, 0);
  });

  it('reset and verification code guesses share the budget of Basic and token guesses: 429', async () => {
    const code = (prefix: string, i: number) => `${prefix}${String(i).padStart(43, 'q')}`;
    const reset = (i: number, remoteAddress: string) =>
      ctx.app.inject({
        method: 'POST',
        url: '/v1/auth/reset/complete',
        payload: { token: code('alr_', i), password: 'a new long passphrase' },
        remoteAddress,
      });
    const verify = (i: number, remoteAddress: string) =>
      ctx.app.inject({
        method: 'POST',
        url: '/v1/auth/verify-email',
        payload: { token: code('alv_', i) },
        remoteAddress,
      });
    // Basic guesses use up most of one address's budget; codes get the rest.
    for (let i = 0; i < LIMIT - 2; i++) await h.basic(`nobody${i}`, 'x', '192.0.2.50');
    assert.equal((await reset(1, '192.0.2.50')).json().code, 'TOKEN_INVALID');
    assert.equal((await verify(2, '192.0.2.50')).json().code, 'TOKEN_INVALID');
    assert.equal((await reset(3, '192.0.2.50')).statusCode, 429);
    // Token guesses fill the token bucket that codes share.
    for (let i = 0; i < LIMIT; i++)
      await ctx.app.inject({
        url: '/v1/auth/sessions',
        headers: { authorization: `Bearer alt_${String(i).padStart(43, 'w')}` },
        remoteAddress: '192.0.2.51',
      });
    assert.equal((await verify(4, '192.0.2.51')).statusCode, 429);
  });
});

describe('an attacker without the password cannot keep the owner out (device cookies)', () => {
  let ctx: Ctx;
  let h: ReturnType<typeof helpers>;
  before(async () => {
    ctx = await startApp('devices', { auth: { lockoutThreshold: THRESHOLD } });
    h = helpers(ctx);
  });
  after(() => ctx.close());

  const lockOut = async (identity: string, id: string) => {
    for (let i = 0; i < THRESHOLD; i++)
      assert.equal((await h.login(identity, `guess ${i}`, `203.0.113.${i + 1}`)).statusCode, 401);
    assert.ok(lockoutState(ctx.node.read, id, Date.now()).lockedUntil !== null, 'locked');
  };

  it('anonymous failures lock the account for unknown clients; the device cookie of an earlier login still gets in', async () => {
    const id = await h.createUser('dana');
    const first = await h.login('dana', PASSWORD, '10.0.0.1');
    assert.equal(first.statusCode, 200, first.body);
    const device = setCookies(first.headers)[DEVICE];
    assert.ok(device?.startsWith('ald_'), 'a device cookie at login');
    const line = ([] as string[])
      .concat(first.headers['set-cookie'] as string[])
      .find((l) => l.startsWith(`${DEVICE}=`));
    assert.match(String(line), /HttpOnly/i);
    assert.match(String(line), /Secure/i);
    assert.match(String(line), /SameSite=Strict/i);

    await lockOut('dana', id);
    // Unknown clients: even the right password is refused, and still recorded (audited).
    const lockedBefore = (await h.events('AuthenticationFailed')).length;
    assert.equal((await h.login('dana', PASSWORD, '203.0.113.9')).statusCode, 401);
    const recorded = (await h.events('AuthenticationFailed')).slice(lockedBefore);
    assert.deepEqual(
      recorded.map((e) => (e.data as { reason: string }).reason),
      ['locked'],
    );
    assert.equal(recorded[0]?.metadata.actor, 'anonymous');

    // The owner's browser, from anywhere, with its device cookie.
    const owner = await h.login('dana', PASSWORD, '10.0.0.77', { cookie: `${DEVICE}=${device}` });
    assert.equal(owner.statusCode, 200, owner.body);
    // The lockout stays for everyone else, and the owner's login reset nothing for them.
    const state = lockoutState(ctx.node.read, id, Date.now());
    assert.notEqual(state.lockedUntil, null);
    assert.equal(state.failures, THRESHOLD);
    assert.equal((await h.login('dana', PASSWORD, '203.0.113.10')).statusCode, 401);
  });

  it('failures with a device cookie count against that device only, until it is trusted no more', async () => {
    const id = await h.createUser('finn');
    const first = await h.login('finn', PASSWORD, '10.0.1.1');
    const device = setCookies(first.headers)[DEVICE] ?? '';
    const withDevice = { cookie: `${DEVICE}=${device}` };
    for (let i = 0; i < THRESHOLD; i++)
      assert.equal((await h.login('finn', `typo ${i}`, '10.0.1.1', withDevice)).statusCode, 401);
    // The principal is not locked by them...
    const state = lockoutState(ctx.node.read, id, Date.now());
    assert.equal(state.lockedUntil, null);
    assert.equal(state.failures, 0);
    const reasons = (await h.events('AuthenticationFailed'))
      .filter((e) => (e.data as { principalId: string }).principalId === id)
      .map((e) => (e.data as { reason: string }).reason);
    assert.ok(reasons.every((r) => r.startsWith('device:') && r.endsWith(':password')));
    // ...but the device has used up its trust: with the principal locked it is refused.
    await lockOut('finn', id);
    assert.equal((await h.login('finn', PASSWORD, '10.0.1.1', withDevice)).statusCode, 401);
  });

  it('the device cookie is bound to its principal, tamper-proof, and cannot be forged', async () => {
    const id = await h.createUser('gwen');
    await h.createUser('hugo');
    const hugo = await h.login('hugo', PASSWORD, '10.0.2.1');
    const hugoDevice = setCookies(hugo.headers)[DEVICE] ?? '';
    const gwen = await h.login('gwen', PASSWORD, '10.0.2.2');
    const gwenDevice = setCookies(gwen.headers)[DEVICE] ?? '';
    await lockOut('gwen', id);
    const attempt = (value: string) =>
      h
        .login('gwen', PASSWORD, '10.0.2.3', { cookie: `${DEVICE}=${value}` })
        .then((r) => r.statusCode);
    assert.equal(await attempt(hugoDevice), 401, "another principal's cookie gives nothing");
    const [nonce = '', expiry = '', mac = ''] = gwenDevice.slice(4).split('.');
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    assert.equal(await attempt(`ald_${flip(nonce)}.${expiry}.${mac}`), 401, 'nonce changed');
    assert.equal(await attempt(`ald_${nonce}.${Number(expiry) + 1}.${mac}`), 401, 'expiry moved');
    assert.equal(await attempt(`ald_${nonce}.${expiry}.${flip(mac)}`), 401, 'signature changed');
    assert.equal(
      await attempt(`ald_${nonce}.${expiry}.${Buffer.alloc(32, 7).toString('base64url')}`),
      401,
      'forged',
    );
    assert.equal(await attempt(gwenDevice), 200, 'the real one');
  });

  it('an application gets the device token in the body and sends it back as Authlog-Device', async () => {
    const id = await h.createUser('app-svc', 'service');
    const first = await h.login('app-svc', PASSWORD, '10.0.3.1', {}, 'bearer');
    assert.equal(first.statusCode, 200, first.body);
    const deviceToken = String(first.json().deviceToken);
    assert.match(deviceToken, /^ald_/);
    assert.equal(setCookies(first.headers)[DEVICE], undefined, 'no cookie for bearer logins');
    await lockOut('app-svc', id);
    const header = { 'authlog-device': deviceToken };
    assert.equal(
      (await h.login('app-svc', PASSWORD, '10.0.3.9', header, 'bearer')).statusCode,
      200,
    );
    assert.equal((await h.basic('app-svc', PASSWORD, '10.0.3.10', header)).statusCode, 200);
    // Without it, from an address the application never succeeded from: locked.
    assert.equal((await h.basic('app-svc', PASSWORD, '10.0.3.11')).statusCode, 401);
  });

  it('a Basic client from an address it succeeded from still works while the principal is locked', async () => {
    const id = await h.createUser('batch', 'service');
    assert.equal((await h.basic('batch', PASSWORD, '192.0.2.80')).statusCode, 200);
    assert.equal((await h.basic('batch', PASSWORD, '2001:db8:5:6::1')).statusCode, 200);
    for (let i = 0; i < THRESHOLD; i++)
      assert.equal((await h.basic('batch', `guess ${i}`, `198.51.100.${i + 1}`)).statusCode, 401);
    assert.ok(lockoutState(ctx.node.read, id, Date.now()).lockedUntil !== null, 'locked');
    const before = (await h.events('AuthenticationSucceeded')).length;
    assert.equal((await h.basic('batch', PASSWORD, '192.0.2.80')).statusCode, 200, 'same /32');
    assert.equal((await h.basic('batch', PASSWORD, '2001:db8:5:6::beef')).statusCode, 200, '/64');
    assert.equal((await h.basic('batch', PASSWORD, '192.0.2.81')).statusCode, 401, 'next /32');
    assert.equal((await h.basic('batch', PASSWORD, '198.51.100.9')).statusCode, 401);
    // Its successes through the lockout reset nothing for the others.
    assert.equal((await h.events('AuthenticationSucceeded')).length, before);
    assert.equal(lockoutState(ctx.node.read, id, Date.now()).failures, THRESHOLD);
  });

  it('a browser with its device cookie elevates while others have locked the account', async () => {
    const id = await h.createUser('ines');
    const first = await h.login('ines', PASSWORD, '10.0.4.1');
    const cookies = setCookies(first.headers);
    await lockOut('ines', id);
    const elevate = (withDevice: boolean) =>
      ctx.app.inject({
        method: 'POST',
        url: '/v1/auth/elevate',
        payload: { password: PASSWORD },
        headers: {
          cookie: [
            `__Host-authlog-session=${cookies['__Host-authlog-session']}`,
            ...(withDevice ? [`${DEVICE}=${cookies[DEVICE]}`] : []),
          ].join('; '),
          'x-csrf-token': cookies['__Host-authlog-csrf'] ?? '',
        },
        remoteAddress: '10.0.4.1',
      });
    assert.equal((await elevate(false)).statusCode, 401, 'locked without the device');
    const r = await elevate(true);
    assert.equal(r.statusCode, 200, r.body);
  });
});
