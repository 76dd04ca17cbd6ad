// Threat: secrets in logs (tokens, passwords, session cookies, CSRF tokens: whoever reads the
// logs could replay them), and forged log lines through CR/LF or control characters in request
// data (OWASP ASVS 7.1.1, 7.1.2, 7.3.1). Also: a 500 is logged with the request id its problem
// names, and says nothing internal to the client.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { SESSION_COOKIE } from '../../src/http/cookies.ts';
import { CSRF_HEADER } from '../../src/http/csrf.ts';
import { createLogger, safeUrl } from '../../src/http/logging.ts';
import { auth, startApp, TOKEN } from '../support/app.ts';

// Raw CR, LF, NUL or ESC in a log line would let request data start a line of its own.
const hasControl = (line: string) => [...line].some((c) => c.charCodeAt(0) < 0x20);

const SECRETS = {
  password: 'hunter2-Pa55word-in-body',
  guessedToken: 'guessed-bearer-token-SECRET-0001',
  queryToken: 'token-in-query-SECRET-0002',
  cookie: 'session-cookie-SECRET-0003',
  csrf: 'csrf-token-SECRET-0004',
  internal: 'internal-detail-SECRET-0005',
};

describe('logs', () => {
  const lines: string[] = [];
  let ctx: Awaited<ReturnType<typeof startApp>>;
  before(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    ctx = await startApp('logging', {
      logger: createLogger('trace', stream),
      sessions: () => undefined,
      configure: (app) =>
        app.register(async (test) => {
          test.get(
            '/v1/test/fail',
            { schema: { response: { 200: Type.Object({}) } } },
            async () => {
              throw new Error(`database said ${SECRETS.internal}`);
            },
          );
        }),
    });
  });
  after(() => ctx.close());

  it('hold no token, password, cookie or CSRF token sent in any part of a request', async () => {
    const requests = [
      { url: '/v1/principals', headers: auth },
      { url: '/v1/principals', headers: { authorization: `Bearer ${SECRETS.guessedToken}` } },
      { url: `/v1/principals?access_token=${SECRETS.queryToken}&limit=1`, headers: auth },
      { url: `/health?password=${SECRETS.password}&x=1`, headers: {} },
      {
        method: 'POST' as const,
        url: '/v1/principals',
        headers: {
          cookie: `__Host-${SESSION_COOKIE}=${SECRETS.cookie}`,
          [CSRF_HEADER]: SECRETS.csrf,
          'content-type': 'application/json',
        },
        payload: JSON.stringify({ briefName: 'x', password: SECRETS.password }),
      },
      {
        method: 'POST' as const,
        url: '/v1/principals',
        headers: { ...auth, 'content-type': 'application/json' },
        payload: JSON.stringify({ briefName: 'x', password: SECRETS.password }),
      },
      {
        method: 'POST' as const,
        url: '/v1/principals',
        headers: { ...auth, 'content-type': 'application/json' },
        payload: `{"password":"${SECRETS.password}"x}`,
      },
    ];
    for (const r of requests) await ctx.app.inject(r);
    const out = lines.join('\n');
    assert.ok(lines.length >= requests.length * 2, `only ${lines.length} log lines`);
    assert.ok(!out.includes(TOKEN), 'the operator token was logged');
    for (const [what, secret] of Object.entries(SECRETS))
      if (what !== 'internal') assert.ok(!out.includes(secret), `${what} was logged`);
  });

  it('every line is one JSON object: CR, LF and control characters cannot forge lines', async () => {
    const before = lines.length;
    const forged = '\r\n{"level":60,"msg":"forged"}\u001b[2J\u0000';
    await ctx.app.inject({
      url: '/v1/principals/x%0D%0A%7B%22msg%22:%22forged%22%7D',
      headers: { ...auth, 'user-agent': `ua${forged}` },
    });
    await ctx.app.inject({
      url: '/health',
      headers: { 'user-agent': forged, 'remote-user': forged },
    });
    const mine = lines.slice(before);
    assert.ok(mine.length > 0);
    for (const line of mine) {
      const entry = JSON.parse(line) as { msg?: string; level?: number };
      assert.notEqual(entry.msg, 'forged', line);
      assert.ok(!hasControl(line), `raw control character in ${line}`);
    }
    assert.ok(
      mine.some((l) => l.includes('\\r\\n{\\"level\\":60')),
      'the user agent was not logged escaped',
    );
  });

  it('a 500 says nothing internal and is logged, with its stack, under the request id it names', async () => {
    const r = await ctx.app.inject({ url: '/v1/test/fail', headers: auth });
    assert.equal(r.statusCode, 500);
    const problem = r.json();
    assert.equal(problem.code, 'INTERNAL');
    assert.equal(problem.detail, undefined);
    assert.ok(!r.body.includes(SECRETS.internal) && !r.body.includes('database'));
    const logged = lines
      .map((l) => JSON.parse(l) as { reqId?: string; level?: number; err?: { stack?: string } })
      .find((e) => e.reqId === problem.requestId && e.level === 50);
    assert.ok(logged, `no error logged for ${problem.requestId}`);
    assert.match(String(logged.err?.stack), new RegExp(SECRETS.internal));
  });

  it('query values of secret-looking parameters are replaced, others kept', () => {
    assert.equal(
      safeUrl('/x?limit=5&access_token=abc&Password=p&code=1&after=b'),
      '/x?limit=5&access_token=[Redacted]&Password=[Redacted]&code=[Redacted]&after=b',
    );
    assert.equal(safeUrl('/x?%74oken=abc'), '/x?%74oken=[Redacted]');
    assert.equal(safeUrl('/plain'), '/plain');
  });
});
