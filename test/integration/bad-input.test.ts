// Threat: malformed or hostile input (wrong types, huge strings, control and bidi characters,
// duplicates, unknown ids) crashing the node, corrupting state, or leaking internals. Every such
// request must get a 4xx problem+json with a stable code and leave the read model unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { auth, startApp } from '../support/app.ts';

type Case = {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
  code: string;
};

describe('bad input changes nothing', () => {
  let ctx: Awaited<ReturnType<typeof startApp>>;
  let pid = '';
  let iid = '';
  before(async () => {
    ctx = await startApp();
    const r = await ctx.app.inject({
      method: 'POST',
      url: '/v1/principals',
      headers: auth,
      payload: { briefName: 'Ann', email: 'ann@example.org', identity: { name: 'ann' } },
    });
    assert.equal(r.statusCode, 201, r.body);
    pid = r.json().principalId;
    iid = r.json().identityId;
    await ctx.app.inject({
      method: 'POST',
      url: '/v1/identity-directories',
      headers: auth,
      payload: { directoryId: 'corp', name: 'corp' },
    });
  });
  after(() => ctx.close());

  const send = (c: Omit<Case, 'code'>) =>
    ctx.app.inject({
      method: c.method,
      url: c.url,
      headers: { ...auth, ...c.headers },
      ...(c.payload === undefined ? {} : { payload: c.payload as string }),
    });

  const expectRefused = async (c: Case) => {
    const before = ctx.node.digest();
    const r = await send(c);
    assert.ok(
      r.statusCode >= 400 && r.statusCode < 500,
      `${c.method} ${c.url} ${JSON.stringify(c.payload)} → ${r.statusCode} ${r.body}`,
    );
    assert.match(
      String(r.headers['content-type']),
      /^application\/problem\+json/,
      `${c.method} ${c.url}: ${r.body}`,
    );
    const body = r.json();
    assert.equal(body.code, c.code, `${c.method} ${c.url}: ${r.body}`);
    assert.equal(body.status, r.statusCode);
    assert.ok(!/at .*\.ts:\d+|SQLITE|better-sqlite3/i.test(r.body), `internals leaked: ${r.body}`);
    assert.equal(ctx.node.digest(), before, `${c.method} ${c.url} changed state`);
  };

  const huge = 'x'.repeat(5000);
  it('refuses wrong types, missing and extra fields, oversized and control-laden strings', async () => {
    const cases: Case[] = [
      { method: 'POST', url: '/v1/principals', payload: {}, code: 'VALIDATION_FAILED' },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 42 },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'a', admin: true },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: huge },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'a\u0000b' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'evil\u202Egnp.exe' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'line\r\nInjected: log' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: '   ' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'a', kind: 'robot' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'a', email: 'not-an-email' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'a', phone: '12345' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'a', principalId: '../etc' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'a', identity: { name: 'has space' } },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'a', identity: { name: 'zero\u200Bwidth' } },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: '{"briefName":',
        headers: { 'content-type': 'application/json' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: 'briefName=a',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: JSON.stringify({ briefName: 'a', pad: 'x'.repeat(70_000) }),
        headers: { 'content-type': 'application/json' },
        code: 'PAYLOAD_TOO_LARGE',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: '{"briefName":"a","__proto__":{"admin":true}}',
        headers: { 'content-type': 'application/json' },
        code: 'VALIDATION_FAILED',
      },
      { method: 'PATCH', url: `/v1/principals/${pid}`, payload: {}, code: 'VALIDATION_FAILED' },
      {
        method: 'PATCH',
        url: `/v1/principals/${pid}`,
        payload: { email: 5 },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'PATCH',
        url: `/v1/principals/${pid}`,
        payload: { fullName: 'a\u0007' },
        code: 'VALIDATION_FAILED',
      },
      {
        method: 'PATCH',
        url: '/v1/principals/anonymous',
        payload: { fullName: 'pwned' },
        code: 'PRINCIPAL_PROTECTED',
      },
      { method: 'DELETE', url: '/v1/principals/anonymous', code: 'PRINCIPAL_PROTECTED' },
      { method: 'GET', url: '/v1/principals?limit=0', code: 'VALIDATION_FAILED' },
      { method: 'GET', url: '/v1/principals?limit=abc', code: 'VALIDATION_FAILED' },
      { method: 'GET', url: '/v1/principals?bogus=1', code: 'VALIDATION_FAILED' },
      { method: 'GET', url: `/v1/principals/${'a'.repeat(200)}`, code: 'URI_TOO_LONG' },
      { method: 'GET', url: `/v1/principals/${'a'.repeat(80)}`, code: 'VALIDATION_FAILED' },
      {
        method: 'POST',
        url: `/v1/principals/${pid}/identities`,
        payload: { name: 'ANN' },
        code: 'IDENTITY_NAME_TAKEN',
      },
      {
        method: 'POST',
        url: `/v1/principals/${pid}/identities`,
        payload: { name: 'ａｎｎ' },
        code: 'IDENTITY_NAME_TAKEN',
      },
      {
        method: 'POST',
        url: `/v1/principals/${pid}/identities`,
        payload: { name: 'x', directoryId: 'nope' },
        code: 'DIRECTORY_NOT_FOUND',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'b', email: 'ANN@example.org' },
        code: 'EMAIL_TAKEN',
      },
      {
        method: 'POST',
        url: '/v1/principals',
        payload: { briefName: 'b', principalId: pid },
        code: 'ID_TAKEN',
      },
      {
        method: 'POST',
        url: '/v1/identity-directories',
        payload: { name: 'CORP' },
        code: 'DIRECTORY_NAME_TAKEN',
      },
      {
        method: 'POST',
        url: '/v1/principals/nobody/identities',
        payload: { name: 'zed' },
        code: 'PRINCIPAL_NOT_FOUND',
      },
      { method: 'GET', url: '/v1/principals/nobody', code: 'PRINCIPAL_NOT_FOUND' },
      { method: 'POST', url: '/v1/principals/nobody/deactivate', code: 'PRINCIPAL_NOT_FOUND' },
      { method: 'DELETE', url: '/v1/identities/nothing', code: 'IDENTITY_NOT_FOUND' },
      { method: 'GET', url: '/v1/nothing-here', code: 'NOT_FOUND' },
      {
        method: 'GET',
        url: '/v1/status',
        headers: { authorization: 'Bearer wrong' },
        code: 'UNAUTHENTICATED',
      },
      { method: 'GET', url: '/v1/status', headers: { authorization: '' }, code: 'UNAUTHENTICATED' },
      {
        method: 'GET',
        url: '/v1/status',
        headers: { 'authlog-after': 'garbage' },
        code: 'VALIDATION_FAILED',
      },
    ];
    for (const c of cases) await expectRefused(c);
    assert.equal(
      (await send({ method: 'GET', url: `/v1/identities/${iid}` })).json().status,
      'held',
    );
  });

  it('any string in any text field: a 2xx or a 4xx problem, never a 5xx, never a partial write', async () => {
    const fields = ['briefName', 'fullName', 'email', 'phone'] as const;
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.string({ unit: 'binary', maxLength: 300 }),
        async (field, value) => {
          tried += 1;
          const before = ctx.node.digest();
          const r = await send({
            method: 'PATCH',
            url: `/v1/principals/${pid}`,
            payload: { [field]: value },
          });
          assert.ok(
            r.statusCode < 500,
            `${field}=${JSON.stringify(value)} → ${r.statusCode} ${r.body}`,
          );
          if (r.statusCode >= 400) {
            assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
            assert.equal(ctx.node.digest(), before);
          }
        },
      ),
      { numRuns: 300 },
    );
    console.log(`# hostile text cases tried: ${tried}`);
  });
});
