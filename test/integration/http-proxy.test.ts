// Threat: a client choosing the address it is audited, rate-limited and (later) given subnet
// evidence by, through a spoofed X-Forwarded-For, or naming itself through a `Remote-User`
// header meant for a trusted gateway (DESIGN.md sections 7 and 10; OWASP ASVS 1.4.x, 7.1.x).
// Real HTTP on loopback: what counts is the socket peer, which inject() can only pretend.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import pino from 'pino';
import { clientIp, trustedRemoteUser } from '../../src/http/proxy.ts';
import { auth, listenApp, type StartAppOptions } from '../support/app.ts';

type Answer = { status: number; headers: Record<string, unknown>; body: string };

const send = (
  port: number,
  path: string,
  headers: Record<string, string> = {},
  options: { host?: string; method?: string; body?: string } = {},
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: options.host ?? '127.0.0.1', port, path, method: options.method ?? 'GET', headers },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });

const whoamiRoute: StartAppOptions['configure'] = (app) =>
  app.register(async (test) => {
    test.get(
      '/test/whoami',
      {
        schema: {
          response: {
            200: Type.Object({
              ip: Type.String(),
              peer: Type.String(),
              protocol: Type.String(),
              remoteUser: Type.Union([Type.String(), Type.Null()]),
            }),
          },
        },
      },
      async (request) => ({
        ip: clientIp(request),
        peer: String(request.socket.remoteAddress),
        protocol: request.protocol,
        remoteUser: trustedRemoteUser(request) ?? null,
      }),
    );
  });

const capture = () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
};

describe('trusted proxies and gateways, over real sockets', () => {
  const running: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const r of running) await r.close();
  });
  const listen = async (name: string, options: StartAppOptions & { host?: string }) => {
    const s = await listenApp(name, { ...options, configure: whoamiRoute });
    running.push(s);
    return s;
  };
  const whoami = async (port: number, headers: Record<string, string>, host?: string) => {
    const r = await send(port, '/test/whoami', headers, host ? { host } : {});
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as {
      ip: string;
      peer: string;
      protocol: string;
      remoteUser: string | null;
    };
  };

  it('with no trusted proxy, X-Forwarded-* from the client is ignored, for audit too', async () => {
    const s = await listen('proxy-none', {});
    const me = await whoami(s.port, {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      forwarded: 'for=203.0.113.9',
    });
    assert.equal(me.ip, '127.0.0.1');
    assert.equal(me.protocol, 'http');
    const r = await send(
      s.port,
      '/v1/principals',
      { ...auth, 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
      { method: 'POST', body: JSON.stringify({ briefName: 'Spoofer' }) },
    );
    assert.equal(r.status, 201, r.body);
    const events = await s.node.store.readAll({ maxCount: 1000 });
    assert.equal(
      events.at(-1)?.metadata.ip,
      '127.0.0.1',
      'the audit trail took the spoofed address',
    );
  });

  it('a trusted proxy is believed, right to left, up to the first untrusted hop', async () => {
    const s = await listen('proxy-trusted', { edge: { trustedProxies: ['127.0.0.1/32'] } });
    assert.equal((await whoami(s.port, { 'x-forwarded-for': '203.0.113.9' })).ip, '203.0.113.9');
    // The client prepended a lie; the proxy appended what it saw.
    assert.equal(
      (await whoami(s.port, { 'x-forwarded-for': '10.9.9.9, 203.0.113.9' })).ip,
      '203.0.113.9',
    );
    assert.equal((await whoami(s.port, { 'x-forwarded-for': '2001:db8::7' })).ip, '2001:db8::7');
    // Garbage from a trusted proxy counts as the proxy itself, never as a name.
    assert.equal((await whoami(s.port, { 'x-forwarded-for': 'evil' })).ip, '127.0.0.1');
    assert.equal((await whoami(s.port, { 'x-forwarded-proto': 'https' })).protocol, 'https');
  });

  it('a peer outside the trusted ranges is not believed', async () => {
    const s = await listen('proxy-other', {
      edge: { trustedProxies: ['10.0.0.0/8', '2001:db8::/32'] },
    });
    const me = await whoami(s.port, { 'x-forwarded-for': '203.0.113.9' });
    assert.equal(me.ip, '127.0.0.1');
  });

  it('an IPv4-mapped peer on a dual-stack socket matches IPv4 ranges', async () => {
    const s = await listen('proxy-mapped', {
      host: '::',
      edge: { trustedProxies: ['127.0.0.1/32'], gatewayCidrs: ['127.0.0.0/8'] },
    });
    const me = await whoami(s.port, { 'x-forwarded-for': '203.0.113.9', 'remote-user': 'alice' });
    assert.equal(me.peer, '::ffff:127.0.0.1');
    assert.equal(me.ip, '203.0.113.9');
    assert.equal(me.remoteUser, 'alice');
    assert.equal((await whoami(s.port, {})).ip, '127.0.0.1', 'mapped address not unwrapped');
  });

  it('IPv6 loopback peers match IPv6 ranges', async () => {
    const s = await listen('proxy-v6', { host: '::1', edge: { trustedProxies: ['::1/128'] } });
    const me = await whoami(s.port, { 'x-forwarded-for': '2001:db8::9' }, '::1');
    assert.equal(me.peer, '::1');
    assert.equal(me.ip, '2001:db8::9');
  });

  it('Remote-User is ignored and logged unless the socket peer is a configured gateway', async () => {
    const log = capture();
    const off = await listen('gateway-off', { logger: log.logger });
    assert.equal((await whoami(off.port, { 'remote-user': 'admin' })).remoteUser, null);
    assert.ok(
      log.lines.some((l) => {
        const entry = JSON.parse(l) as { msg?: string; level?: number; peer?: string };
        return /Remote-User header from a peer outside/.test(entry.msg ?? '') && entry.level === 40;
      }),
      `not logged: ${log.lines.join('\n')}`,
    );

    const other = await listen('gateway-other', { edge: { gatewayCidrs: ['10.0.0.0/8'] } });
    assert.equal((await whoami(other.port, { 'remote-user': 'admin' })).remoteUser, null);

    const on = await listen('gateway-on', { edge: { gatewayCidrs: ['127.0.0.1/32'] } });
    assert.equal((await whoami(on.port, { 'remote-user': 'alice' })).remoteUser, 'alice');
    assert.equal((await whoami(on.port, {})).remoteUser, null);
    for (const bad of ['a b', 'alice, admin', 'x'.repeat(300)])
      assert.equal((await whoami(on.port, { 'remote-user': bad })).remoteUser, null, bad);
  });

  it('a forwarded address never makes a request come from the gateway', async () => {
    const s = await listen('gateway-forwarded', {
      edge: { trustedProxies: ['127.0.0.1/32'], gatewayCidrs: ['10.0.0.0/8'] },
    });
    const me = await whoami(s.port, { 'x-forwarded-for': '10.1.2.3', 'remote-user': 'admin' });
    assert.equal(me.ip, '10.1.2.3');
    assert.equal(me.remoteUser, null);
  });

  it('a spoofed X-Forwarded-For does not reset the rate limit', async () => {
    const s = await listen('proxy-rate', { edge: { rateLimit: { max: 5, windowMs: 60_000 } } });
    const statuses: number[] = [];
    let limited: Answer | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await send(s.port, '/health', { 'x-forwarded-for': `198.51.100.${i}` });
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert.ok(limited);
    assert.match(String(limited.headers['content-type']), /^application\/problem\+json/);
    assert.equal(JSON.parse(limited.body).code, 'RATE_LIMITED');
    assert.match(String(limited.headers['retry-after']), /^\d+$/);
  });

  it('behind a trusted proxy, clients are limited one by one', async () => {
    const s = await listen('proxy-rate-trusted', {
      edge: { trustedProxies: ['127.0.0.1/32'], rateLimit: { max: 3, windowMs: 60_000 } },
    });
    const from = async (ip: string) =>
      (await send(s.port, '/health', { 'x-forwarded-for': ip })).status;
    for (let i = 0; i < 3; i++) assert.equal(await from('203.0.113.1'), 200);
    assert.equal(await from('203.0.113.1'), 429);
    assert.equal(await from('203.0.113.2'), 200, 'another client paid for the first');
  });

  it('headers over 16 KiB get a problem, not a bare socket error', async () => {
    const s = await listen('huge-headers', {});
    const r = await send(s.port, '/health', { 'x-huge': 'h'.repeat(20_000) });
    assert.equal(r.status, 431);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
    assert.equal(JSON.parse(r.body).code, 'HEADERS_TOO_LARGE');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    // The server is still there.
    assert.equal((await send(s.port, '/health')).status, 200);
  });
});
