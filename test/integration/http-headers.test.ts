// Threat: a browser rendering, framing, caching or sniffing an answer of ours (clickjacking,
// XSS through a misread JSON, personal data left in a shared cache, referrer leaks). Every route
// of the OpenAPI document, and every kind of refusal, carries the security headers of DESIGN.md
// section 10 (OWASP ASVS 14.4; OWASP Secure Headers Project).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { auth, startApp } from '../support/app.ts';
import { operationsOf } from '../support/hostile.ts';

const expectSecurityHeaders = (r: LightMyRequestResponse, what: string) => {
  const h = r.headers;
  const csp = String(h['content-security-policy']);
  for (const directive of [
    "default-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ])
    assert.ok(csp.includes(directive), `${what}: CSP lacks ${directive}: ${csp}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${what}: CSP too loose: ${csp}`);
  assert.equal(h['x-content-type-options'], 'nosniff', what);
  assert.equal(h['referrer-policy'], 'no-referrer', what);
  assert.equal(h['x-frame-options'], 'DENY', what);
  assert.equal(h['cross-origin-resource-policy'], 'same-origin', what);
  assert.equal(h['cross-origin-opener-policy'], 'same-origin', what);
  const permissions = String(h['permissions-policy']);
  for (const feature of ['camera', 'microphone', 'geolocation', 'payment', 'usb'])
    assert.ok(permissions.includes(`${feature}=()`), `${what}: ${feature} not denied`);
  assert.equal(h['x-powered-by'], undefined, what);
  assert.equal(h.server, undefined, what);
};

describe('security headers', () => {
  let dev: Awaited<ReturnType<typeof startApp>>;
  let prod: Awaited<ReturnType<typeof startApp>>;
  before(async () => {
    dev = await startApp('headers-dev');
    prod = await startApp('headers-prod', { edge: { hsts: true } });
  });
  after(async () => {
    await dev.close();
    await prod.close();
  });

  it('are on every route, answered or refused, and /v1 answers are never stored', async () => {
    const ops = operationsOf((await dev.app.inject({ url: '/openapi.json' })).json());
    let checked = 0;
    for (const op of ops) {
      const url = op.path.replace(/\{[^}]+\}/g, 'zz-missing');
      const variants = [
        { name: 'with the operator token', headers: auth },
        { name: 'without credentials', headers: {} },
        { name: 'with an unknown parameter', headers: auth, query: '?bogus=1' },
      ];
      for (const v of variants) {
        const r = await dev.app.inject({
          method: op.method as 'GET',
          url: `${url}${v.query ?? ''}`,
          headers: { ...v.headers, ...(op.body ? { 'content-type': 'application/json' } : {}) },
          ...(op.body ? { payload: '{}' } : {}),
        });
        const what = `${op.method} ${op.path} ${v.name} → ${r.statusCode}`;
        expectSecurityHeaders(r, what);
        if (op.path.startsWith('/v1/')) assert.equal(r.headers['cache-control'], 'no-store', what);
        else assert.match(String(r.headers['cache-control']), /^no-(store|cache)$/, what);
        assert.equal(
          r.headers['strict-transport-security'],
          undefined,
          `${what}: HSTS in development`,
        );
        checked += 1;
      }
    }
    console.log(`# header checks: ${checked} answers on ${ops.length} operations`);
  });

  it('are on refusals made before routing: unknown routes, overlong URLs, bad encodings', async () => {
    for (const url of ['/nothing', '/v1/nothing', `/v1/principals/${'a'.repeat(300)}`, '/v1/%zz']) {
      const r = await dev.app.inject({ url, headers: auth });
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${url} → ${r.statusCode}`);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', url);
      assert.match(String(r.headers['content-security-policy']), /default-src 'none'/, url);
      assert.equal(r.headers['cache-control'], 'no-store', url);
    }
  });

  it('HSTS outside development mode, with a long max-age', async () => {
    for (const url of ['/health', '/v1/status', '/nothing']) {
      const r = await prod.app.inject({ url, headers: auth });
      assert.match(
        String(r.headers['strict-transport-security']),
        /^max-age=63072000; includeSubDomains$/,
        url,
      );
    }
  });

  it('the docs page renders without script: its CSP allows only its own style, by hash', async () => {
    const r = await dev.app.inject({ url: '/docs' });
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /style-src 'sha256-[A-Za-z0-9+/=]+'/);
    assert.doesNotMatch(csp, /script-src|unsafe/);
    assert.doesNotMatch(r.body, /<script|https?:\/\/(?!127)/i, 'external or script content');
    assert.match(r.body, /\/v1\/principals/);
    const style = /<style>([\s\S]*?)<\/style>/.exec(r.body)?.[1] ?? '';
    const hash = createHash('sha256').update(style).digest('base64');
    assert.ok(csp.includes(`'sha256-${hash}'`), 'the style block does not match its hash');
  });
});
