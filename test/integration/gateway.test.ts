// Threat: identity assertion by header — a client naming itself in `Remote-User`, a gateway's
// assertion standing in for MFA a policy requires, or a page on another site riding on a
// gateway-authenticated browser (scenario 10; OWASP ASVS 1.4.2, 4.2.2). Real sockets on loopback,
// so the socket peer is real.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
