// Threat: bytes that are not UTF-8 slipping into stored data. Issue 14 row 7: a JSON body with the
// bytes C3 28 FF FE inside `briefName` was accepted (201) and stored with U+FFFD in their place,
// although docs/http.md says such bodies are refused. A replacement character is data the client
// never sent, and two decoders may disagree on where it goes (RFC 8259 8.1: JSON between systems
// MUST be UTF-8; OWASP ASVS 5.0 V1.2: one canonical decoding, refuse what does not decode). Any
// body that is not valid UTF-8 must be a 400 BODY_NOT_UTF8 that changes nothing, from app.inject
// and from a raw socket alike; prototype poisoning stays refused with the new parser.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { auth, listenApp } from '../support/app.ts';

const ROW_7 = Buffer.from([0xc3, 0x28, 0xff, 0xfe]);
const json = (...parts: (string | Buffer)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));

/** Byte sequences that are not UTF-8 (Unicode 3.9 Table 3-7; WHATWG Encoding's decoder). */
const NOT_UTF8: [string, Buffer][] = [
  ['row 7 bytes', ROW_7],
  ['lone continuation byte', Buffer.from([0x80])],
  ['overlong slash', Buffer.from([0xc0, 0xaf])],
  ['overlong NUL', Buffer.from([0xe0, 0x80, 0x80])],
  ['UTF-8 encoded surrogate', Buffer.from([0xed, 0xa0, 0x80])],
  ['beyond U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
  ['truncated sequence', Buffer.from([0xe2, 0x82])],
  ['Latin-1 e acute', Buffer.from([0xe9])],
  ['FE and FF bytes', Buffer.from([0xfe, 0xff])],
];

describe('request bodies that are not UTF-8 are refused', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  before(async () => {
    ctx = await listenApp('utf8');
  });
  after(() => ctx.close());

  const register = (body: Buffer, contentType = 'application/json') =>
    ctx.app.inject({
      method: 'POST',
      url: '/v1/principals',
      headers: { ...auth, 'content-type': contentType },
      payload: body,
    });

  it('row 7: C3 28 FF FE inside briefName is a 400 BODY_NOT_UTF8, and nothing is stored', async () => {
    const before = ctx.node.digest();
    const r = await register(json('{"briefName":"Eve', ROW_7, '"}'));
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.json().code, 'BODY_NOT_UTF8');
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
    assert.equal(ctx.node.digest(), before);
  });

  it('every kind of ill-formed sequence, anywhere in the body, with or without a charset', async () => {
    for (const [what, bytes] of NOT_UTF8) {
      for (const body of [
        json('{"briefName":"', bytes, '"}'),
        json('{"briefName":"x",', bytes, '"fullName":"y"}'),
        json(bytes, '{"briefName":"x"}'),
      ]) {
        for (const type of ['application/json', 'application/json; charset=utf-8']) {
          const r = await register(body, type);
          assert.equal(r.statusCode, 400, `${what} (${type}): ${r.body}`);
          assert.equal(r.json().code, 'BODY_NOT_UTF8', what);
        }
      }
    }
  });

  it('the same bytes over a raw socket (no client library re-encoding them)', async () => {
    const body = json('{"briefName":"Eve', ROW_7, '"}');
    const head = [
      'POST /v1/principals HTTP/1.1',
      'Host: 127.0.0.1',
      `Authorization: ${auth.authorization}`,
      'Content-Type: application/json',
      `Content-Length: ${body.length}`,
      'Connection: close',
      '',
      '',
    ].join('\r\n');
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(ctx.port, '127.0.0.1', () => {
        socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
      });
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /"code":"BODY_NOT_UTF8"/);
  });

  it('valid UTF-8 (astral characters included) is stored exactly as sent', async () => {
    const name = 'Zoë 𝄞 Łukasz 李';
    const r = await register(json(JSON.stringify({ briefName: name })));
    assert.equal(r.statusCode, 201, r.body);
    const got = await ctx.app.inject({
      method: 'GET',
      url: `/v1/principals/${r.json().principalId}`,
      headers: auth,
    });
    assert.equal(got.json().briefName, name);
  });

  it('a leading byte order mark is ignored (RFC 8259 8.1 lets a parser ignore it)', async () => {
    const r = await register(json(Buffer.from([0xef, 0xbb, 0xbf]), '{"briefName":"Bom"}'));
    assert.equal(r.statusCode, 201, r.body);
    // A UTF-16 byte order mark is not UTF-8.
    const utf16 = await register(json(Buffer.from([0xff, 0xfe]), '{"briefName":"Bom"}'));
    assert.equal(utf16.statusCode, 400, utf16.body);
    assert.equal(utf16.json().code, 'BODY_NOT_UTF8');
  });

  it('prototype and constructor poisoning are still refused', async () => {
    for (const body of [
      '{"briefName":"x","__proto__":{"isAdmin":true}}',
      '{"briefName":"x","constructor":{"prototype":{"isAdmin":true}}}',
    ]) {
      const before = ctx.node.digest();
      const r = await register(json(body));
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(r.json().code, 'VALIDATION_FAILED');
      assert.equal(ctx.node.digest(), before);
    }
  });

  it('empty and truncated JSON stay 400 VALIDATION_FAILED', async () => {
    for (const body of ['', '{', '{"briefName":']) {
      const r = await register(json(body));
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(r.json().code, 'VALIDATION_FAILED');
    }
  });

  it('for any byte string: a body that is not UTF-8 is BODY_NOT_UTF8, and nothing is ever 5xx', async () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        const body = json('{"briefName":"', Buffer.from(bytes), '"}');
        let utf8 = true;
        try {
          strict.decode(body);
        } catch {
          utf8 = false;
        }
        const r = await register(body);
        assert.ok(r.statusCode < 500, r.body);
        if (!utf8) assert.equal(r.json().code, 'BODY_NOT_UTF8', r.body);
        else assert.notEqual(r.json().code, 'BODY_NOT_UTF8', r.body);
      }),
      { numRuns: 300 },
    );
  });
});
