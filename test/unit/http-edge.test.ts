// Threat: a misconfigured edge going unnoticed (a typo in a trusted proxy range silently
// trusting nobody, or everybody), address parsing that lets a mapped or odd spelling of an
// address escape its range, and a route added later without the schemas that make it safe.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import fc from 'fast-check';
import { cidrMatcher, clientKey, parseCidr, parseCidrList } from '../../src/authn/net.ts';
import { ConfigError, loadConfig } from '../../src/boot/config.ts';
import type { App } from '../../src/http/types.ts';
import { startApp } from '../support/app.ts';
import { productionIdentity } from '../support/keys.ts';
import { removeDir, tempDir } from '../support/process.ts';

describe('addresses and ranges', () => {
  it('parses addresses and CIDRs, bare addresses as /32 or /128, mapped IPv6 as IPv4', () => {
    assert.deepEqual(parseCidrList('10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,,').invalid, []);
    assert.deepEqual(parseCidrList('10.0.0.0/33,nope,2001:db8::/129,10.0.0.0/8/1').invalid, [
      '10.0.0.0/33',
      'nope',
      '2001:db8::/129',
      '10.0.0.0/8/1',
    ]);
    const mapped = parseCidr('::ffff:10.0.0.0/104');
    assert.equal(mapped?.[0].kind(), 'ipv4');
    assert.equal(mapped?.[1], 8);
    assert.equal(parseCidr('192.0.2.7')?.[1], 32);
    assert.equal(parseCidr('::1')?.[1], 128);
  });

  it('matches IPv4, IPv4-mapped IPv6 and IPv6 peers against their ranges only', () => {
    const match = cidrMatcher(parseCidrList('10.0.0.0/8,2001:db8::/32').cidrs);
    for (const yes of [
      '10.1.2.3',
      '::ffff:10.1.2.3',
      '::FFFF:a01:203',
      '2001:db8::1',
      '2001:DB8:0:0::ff',
    ])
      assert.ok(match(yes), yes);
    for (const no of [
      '11.0.0.1',
      '::ffff:11.0.0.1',
      '2001:db9::1',
      '::a01:203',
      'nope',
      '',
      undefined,
    ])
      assert.ok(!match(no), String(no));
    assert.ok(!cidrMatcher([])('10.1.2.3'), 'an empty list trusts somebody');
  });

  it('keys IPv4 by address and IPv6 by /64, whatever the spelling', () => {
    assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(clientKey('2001:db8:1:2::1'), clientKey('2001:0DB8:0001:0002:ffff:0:0:9'));
    assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
    fc.assert(
      fc.property(fc.ipV6(), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (a, iid) => {
        const parts = clientKey(a).replace('::/64', '');
        if (!/^[0-9a-f:]+$/.test(parts)) return; // an IPv4-mapped form, keyed as IPv4
        const prefix = `${parts}:`;
        const other = `${prefix}${[48n, 32n, 16n, 0n].map((s) => ((iid >> s) & 0xffffn).toString(16)).join(':')}`;
        assert.equal(clientKey(other), clientKey(a), `${a} and ${other}`);
      }),
    );
  });
});

describe('edge configuration', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir('edge-config');
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach(removeDir));

  it('names every wrong HTTP-edge setting at once', () => {
    let problems: readonly string[] = [];
    try {
      loadConfig({
        AUTHLOG_DATA_DIR: dir(),
        AUTHLOG_TRUSTED_PROXIES: '10.0.0.0/8,10.0.0.300',
        AUTHLOG_GATEWAY_CIDRS: '0.0.0.0/0',
        AUTHLOG_RATE_LIMIT: 'lots',
        AUTHLOG_AUTH_RATE_LIMIT: '0/1m',
        AUTHLOG_ALLOWED_ORIGINS: 'https://ok.example,https://bad.example/path',
        AUTHLOG_CSRF_KEY: 'c2hvcnQ=',
      });
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      problems = e.problems;
    }
    assert.equal(problems.length, 6, problems.join('\n'));
    for (const name of [
      'AUTHLOG_TRUSTED_PROXIES: "10.0.0.300" is not an IPv4 or IPv6 address or CIDR',
      'AUTHLOG_GATEWAY_CIDRS: 0.0.0.0/0 would trust every address',
      'AUTHLOG_RATE_LIMIT must be requests/window like 600/1m',
      'AUTHLOG_AUTH_RATE_LIMIT must be requests/window',
      'AUTHLOG_ALLOWED_ORIGINS: "https://bad.example/path" is not an origin',
      'AUTHLOG_CSRF_KEY must be base64 of at least 32 random bytes',
    ])
      assert.ok(
        problems.some((p) => p.startsWith(name)),
        `missing: ${name}\n${problems.join('\n')}`,
      );
  });

  it('reads good settings; HSTS only outside development', () => {
    const dev = loadConfig({
      AUTHLOG_DATA_DIR: dir(),
      AUTHLOG_TRUSTED_PROXIES: '10.0.0.0/8, ::ffff:192.0.2.0/120',
      AUTHLOG_GATEWAY_CIDRS: '2001:db8::/32',
      AUTHLOG_RATE_LIMIT: '100/30s',
      AUTHLOG_AUTH_RATE_LIMIT: '5/1h',
      AUTHLOG_ALLOWED_ORIGINS: 'https://admin.example.org/',
    });
    assert.deepEqual(dev.http.trustedProxies, ['10.0.0.0/8', '192.0.2.0/24']);
    assert.deepEqual(dev.http.gatewayCidrs, ['2001:db8::/32']);
    assert.deepEqual(dev.http.rateLimit, { max: 100, windowMs: 30_000 });
    assert.deepEqual(dev.http.authRateLimit, { max: 5, windowMs: 3_600_000 });
    assert.deepEqual(dev.http.allowedOrigins, ['https://admin.example.org']);
    assert.equal(dev.http.hsts, false);
    const prod = loadConfig({
      AUTHLOG_DATA_DIR: dir(),
      AUTHLOG_MODE: 'production',
      AUTHLOG_NODE_ID: 'site-a',
      ...productionIdentity('site-a'),
      AUTHLOG_OPERATOR_TOKEN: 'x'.repeat(40),
      AUTHLOG_TOTP_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    });
    assert.equal(prod.http.hsts, true);
    assert.deepEqual(prod.http.trustedProxies, [], 'trusts a proxy nobody configured');
    assert.deepEqual(prod.http.gatewayCidrs, [], 'trusts a gateway nobody configured');
  });
});

describe('route conventions', () => {
  const refused = async (register: (app: App) => void, message: RegExp) => {
    await assert.rejects(startApp('conventions', { configure: register }), message);
  };

  it('refuse a route without a success response schema', async () => {
    await refused(
      (app) => app.register(async (a) => a.get('/v1/test/none', async () => ({}))),
      /GET \/v1\/test\/none: declare a response schema/,
    );
  });

  it('refuse a route with path parameters and no params schema', async () => {
    await refused(
      (app) =>
        app.register(async (a) =>
          a.get(
            '/v1/test/:id',
            { schema: { response: { 200: Type.Object({}) } } },
            async () => ({}),
          ),
        ),
      /declare a params schema/,
    );
  });

  it('refuse request schemas that let unknown properties in, however deep', async () => {
    await refused(
      (app) =>
        app.register(async (a) =>
          a.post(
            '/v1/test/loose',
            {
              schema: {
                body: Type.Object(
                  { inner: Type.Object({ x: Type.String() }) },
                  { additionalProperties: false },
                ),
                response: { 200: Type.Object({}) },
              },
            },
            async () => ({}),
          ),
        ),
      /body schema must refuse unknown properties \(Strict\) at \/properties\/inner/,
    );
  });
});
