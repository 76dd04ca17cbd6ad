// Threat: brute force and resource exhaustion: guessing credentials or scraping at full speed,
// and dodging per-address limits by rotating through the 2^64 addresses of one IPv6 subscriber
// or spreading guesses over several authentication routes (OWASP ASVS 2.2.1, 11.1.4).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { authRouteConfig } from '../../src/http/rate-limit.ts';
import type { App } from '../../src/http/types.ts';
import { auth, startApp } from '../support/app.ts';

const authRoutes = (app: App) =>
  app.register(async (plugin) => {
    const test = plugin.withTypeProvider<TypeBoxTypeProvider>();
    for (const name of ['login', 'otp']) {
      test.post(
        `/v1/test/${name}`,
        {
          config: { ...authRouteConfig, public: true },
          schema: {
            body: Type.Object(
              { account: Type.String({ maxLength: 100 }) },
              { additionalProperties: false },
            ),
            response: { 200: Type.Object({ ok: Type.Boolean() }) },
          },
        },
        async (request, reply) => {
          await test.countAuthAttempt(request, reply, `account:${request.body.account}`);
          return { ok: true };
        },
      );
    }
  });

describe('rate limits', () => {
  let ctx: Awaited<ReturnType<typeof startApp>>;
  before(async () => {
    ctx = await startApp('rate', {
      edge: {
        rateLimit: { max: 4, windowMs: 60_000 },
        authRateLimit: { max: 3, windowMs: 60_000 },
      },
      configure: authRoutes,
    });
  });
  after(() => ctx.close());

  const health = (remoteAddress: string) =>
    ctx.app.inject({ url: '/health', remoteAddress }).then((r) => r.statusCode);

  it('counts IPv4 clients by address, and answers 429 as a problem with Retry-After', async () => {
    for (let i = 0; i < 4; i++) assert.equal(await health('192.0.2.1'), 200);
    const r = await ctx.app.inject({
      url: '/v1/status',
      headers: auth,
      remoteAddress: '192.0.2.1',
    });
    assert.equal(r.statusCode, 429);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
    assert.equal(r.json().code, 'RATE_LIMITED');
    assert.ok(Number(r.headers['retry-after']) > 0 && Number(r.headers['retry-after']) <= 60);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(await health('192.0.2.2'), 200, 'a neighbour paid for it');
  });

  it('counts IPv6 clients by /64: rotating the interface id gains nothing', async () => {
    for (let i = 1; i <= 4; i++) assert.equal(await health(`2001:db8:1:2::${i.toString(16)}`), 200);
    assert.equal(await health('2001:db8:1:2:ffff:ffff:ffff:ffff'), 429);
    assert.equal(await health('2001:db8:1:3::1'), 200, 'the next /64 is another client');
  });

  it('an IPv4-mapped address is the IPv4 client', async () => {
    for (let i = 0; i < 4; i++) assert.equal(await health('::ffff:198.51.100.7'), 200);
    assert.equal(await health('198.51.100.7'), 429);
  });

  it('probing for routes is counted too', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await ctx.app.inject({ url: `/nothing-${i}`, remoteAddress: '192.0.2.50' });
      assert.equal(r.statusCode, 404);
    }
    const r = await ctx.app.inject({ url: '/nothing-else', remoteAddress: '192.0.2.50' });
    assert.equal(r.statusCode, 429);
    // Guessing tokens against unknown /v1 paths (401 before 404) is counted all the same, and
    // tokens that resolve to nothing fill the client's token bucket (the authentication limit,
    // 3 here) before the global limit (4): the fourth guess is not even looked up.
    const guesses: number[] = [];
    for (let i = 0; i < 6; i++)
      guesses.push(
        (
          await ctx.app.inject({
            url: `/v1/nothing-${i}`,
            headers: { authorization: `Bearer guess-${i}` },
            remoteAddress: '192.0.2.51',
          })
        ).statusCode,
      );
    assert.deepEqual(guesses, [401, 401, 401, 429, 429, 429]);
  });

  it('authentication routes share one stricter limit per address', async () => {
    const attempt = (route: string, account: string, remoteAddress: string) =>
      ctx.app
        .inject({ method: 'POST', url: `/v1/test/${route}`, payload: { account }, remoteAddress })
        .then((r) => r.statusCode);
    // Three guesses, spread over two routes and three accounts, exhaust the address.
    assert.equal(await attempt('login', 'a', '192.0.2.77'), 200);
    assert.equal(await attempt('otp', 'b', '192.0.2.77'), 200);
    assert.equal(await attempt('login', 'c', '192.0.2.77'), 200);
    assert.equal(await attempt('otp', 'd', '192.0.2.77'), 429);
  });

  it('and a per-account limit that no number of addresses gets around', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++)
      statuses.push(
        (
          await ctx.app.inject({
            method: 'POST',
            url: '/v1/test/login',
            payload: { account: 'victim' },
            remoteAddress: `203.0.113.${i}`,
          })
        ).statusCode,
      );
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  });
});
