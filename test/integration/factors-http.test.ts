// OTP and subnet credentials over HTTP: enrollment answers the seed and otpauth:// URI once and
// never stores them in clear; the first code (from oathtool) confirms; subnets accept IPv4, IPv6
// and IPv4-mapped ranges and give location evidence to matching addresses only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { otpProvider } from '../../src/authn/otp.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { subnetProvider } from '../../src/authn/subnets.ts';
import { ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
import type { App } from '../../src/http/types.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { auth, startApp } from '../support/app.ts';
import { awayFromStepEdge, oathHotp, oathTotp } from '../support/oathtool.ts';

type Enrolled = { credentialId: string; secret: string; uri: string };

describe('OTP and subnet credentials over HTTP', () => {
  let app: App;
  let node: AuthlogNode;
  let close: () => Promise<void>;
  before(async () => {
    ({ app, node, close } = await startApp('factors'));
    await node.execute(
      registerPrincipal({ principalId: 'ann', kind: 'person', briefName: 'Ann' }),
      { actor: 'system' },
    );
  });
  after(() => close());

  const post = (url: string, payload: object) =>
    app.inject({ method: 'POST', url, headers: auth, payload });

  it('enrolls TOTP: seed and otpauth URI in the answer only; the first code confirms', async () => {
    await awayFromStepEdge();
    const res = await post('/v1/principals/ann/otp', { name: 'phone' });
    assert.equal(res.statusCode, 201, res.body);
    const e = res.json<Enrolled>();
    assert.match(e.secret, /^[A-Z2-7]{32}$/);
    const uri = new URL(e.uri);
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(uri.searchParams.get('secret'), e.secret);
    assert.equal(uri.searchParams.get('issuer'), 'authlog');

    const log = JSON.stringify(
      (await node.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX })).map((r) => r.data),
    );
    assert.ok(!log.includes(e.secret), 'base32 seed in the event log');
    assert.ok(log.includes('"ciphertext"'), 'sealed seed missing');

    const bad = await post(`/v1/credentials/${e.credentialId}/confirm`, { code: '000000' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'OTP_CODE_INVALID');
    const code = oathTotp(e.secret, Date.now());
    const ok = await post(`/v1/credentials/${e.credentialId}/confirm`, { code });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { credentialId: e.credentialId, confirmed: true });
    const again = await post(`/v1/credentials/${e.credentialId}/confirm`, { code });
    assert.equal(again.json().code, 'OTP_ALREADY_CONFIRMED');

    // Confirmed: the provider now gives ownership evidence for the next time step's code.
    const now = Date.now();
    const outcome = otpProvider(app.otpKeys).decide(
      {
        state: node.read,
        principalId: 'ann',
        presented: { otp: oathTotp(e.secret, now + 30_000) },
        ip: undefined,
        now,
      },
      undefined,
    );
    assert.ok(
      typeof outcome === 'object' &&
        'evidences' in outcome &&
        outcome.evidences.join() === 'ownership',
    );
    assert.equal(outcome.credentialId, e.credentialId);
  });

  it('enrolls a hardware token (HOTP) from its own seed', async () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // RFC 4226 appendix D test key
    const res = await post('/v1/principals/ann/otp', { kind: 'hotp', name: 'token', secret });
    assert.equal(res.statusCode, 201, res.body);
    const e = res.json<Enrolled>();
    assert.equal(new URL(e.uri).host, 'hotp');
    assert.equal(oathHotp(secret, 0), '755224', 'RFC 4226 appendix D, count 0');
    const ok = await post(`/v1/credentials/${e.credentialId}/confirm`, { code: '287082' });
    assert.equal(ok.statusCode, 200, 'count 1 (RFC 4226 appendix D), within the look-ahead');
  });

  it('refuses bad enrollment input and changes nothing', async () => {
    const before = (await node.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX })).length;
    for (const body of [
      { name: 'x', kind: 'sms' },
      { name: 'x', digits: 7 },
      { name: 'x', secret: 'not base32 at all, really not!' },
      { name: 'x', secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY' }, // 16 bytes is fine, 13 is not:
      { name: '' },
      { name: 'x', period: 5 },
    ]) {
      const res = await post('/v1/principals/ann/otp', body);
      if (body.secret === 'GEZDGNBVGY3TQOJQGEZDGNBVGY') {
        assert.equal(res.statusCode, 201, 'a 128-bit seed is accepted (RFC 4226 4 R6)');
        continue;
      }
      assert.equal(res.statusCode, 400, JSON.stringify(body));
    }
    assert.equal((await post('/v1/principals/nobody/otp', { name: 'x' })).statusCode, 404);
    const afterCount = (await node.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX })).length;
    assert.equal(afterCount, before + 1, 'only the 128-bit enrollment was recorded');
  });

  it('allows IPv4, IPv6 and IPv4-mapped ranges; location evidence only from inside', async () => {
    const res = await post('/v1/principals/ann/subnets', {
      name: 'office',
      cidrs: ['10.0.0.0/8', '2001:db8:1::/48', '::ffff:192.168.0.0/112'],
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().cidrs, ['10.0.0.0/8', '2001:db8:1::/48', '192.168.0.0/16']);
    // Alongside something presented (here a password, checked by its own provider).
    const at = (ip: string | undefined, presented: { password?: string } = { password: 'x' }) =>
      subnetProvider.decide(
        { state: node.read, principalId: 'ann', presented, ip, now: Date.now() },
        undefined,
      );
    assert.equal(at('10.1.2.3', {}), 'none', 'location alone logs in only whom a policy says');
    for (const ip of ['10.1.2.3', '::ffff:10.0.0.1', '2001:db8:1:ff::1', '192.168.7.7']) {
      const o = at(ip);
      assert.ok(typeof o === 'object' && 'evidences' in o && o.evidences.join() === 'location', ip);
    }
    for (const ip of ['11.0.0.1', '2001:db8:2::1', '::ffff:11.0.0.1', '127.0.0.1', undefined])
      assert.equal(at(ip), 'none', String(ip));
    for (const cidrs of [['0.0.0.0/0'], ['::/0'], ['10.0.0.0/33'], ['nope'], []]) {
      const r = await post('/v1/principals/ann/subnets', { name: 'bad', cidrs });
      assert.equal(r.statusCode, 400, JSON.stringify(cidrs));
    }
  });

  it('revokes: a revoked OTP or subnet credential gives no evidence, for good', async () => {
    await awayFromStepEdge();
    const e = (await post('/v1/principals/ann/otp', { name: 'old phone' })).json<Enrolled>();
    const now = Date.now();
    await post(`/v1/credentials/${e.credentialId}/confirm`, { code: oathTotp(e.secret, now) });
    const s = (
      await post('/v1/principals/ann/subnets', { name: 'lab', cidrs: ['172.16.0.0/12'] })
    ).json();
    for (const id of [e.credentialId, s.credentialId]) {
      const res = await app.inject({
        method: 'DELETE',
        url: `/v1/credentials/${id}`,
        headers: auth,
      });
      assert.deepEqual(res.json(), { revoked: true }, res.body);
    }
    const presented = { otp: oathTotp(e.secret, now + 30_000) };
    const context = { state: node.read, principalId: 'ann', presented, ip: '172.16.0.1', now };
    const otp = otpProvider(app.otpKeys).decide(context, undefined);
    assert.equal(otp, 'failed', 'the only confirmed TOTP left is for other codes');
    assert.equal(subnetProvider.decide(context, undefined), 'none');
    const again = await post(`/v1/credentials/${e.credentialId}/confirm`, { code: '123456' });
    assert.equal(again.json().code, 'CREDENTIAL_NOT_LIVE');
    const unknown = await app.inject({
      method: 'DELETE',
      url: '/v1/credentials/nope',
      headers: auth,
    });
    assert.equal(unknown.statusCode, 404);
  });

  it('lists credentials without secrets', async () => {
    const res = await app.inject({ url: '/v1/principals/ann/credentials', headers: auth });
    assert.equal(res.statusCode, 200, res.body);
    const items = res.json().items as { kind: string; revoked: boolean }[];
    assert.deepEqual(items.map((i) => i.kind).sort(), [
      'hotp',
      'subnet',
      'subnet',
      'totp',
      'totp',
      'totp',
    ]);
    assert.equal(items.filter((i) => i.revoked).length, 2);
    assert.ok(!/secret|ciphertext|seed/i.test(res.body));
  });
});
