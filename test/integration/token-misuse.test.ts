// Threat: access-token misuse — a revoked, expired, foreign-subnet or guessed token, or the token
// of a deactivated principal, authenticating anyone; a token's secret reaching the event log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deactivatePrincipal, registerPrincipal } from '../../src/authn/principals.ts';
import { sessionByToken } from '../../src/authn/sessions/views.ts';
import {
  authenticateToken,
  hashSecret,
  issueAccessToken,
  newTokenSecret,
  revokeCredential,
} from '../../src/authn/tokens.ts';
import { AppError } from '../../src/errors.ts';
import { ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { listenApp } from '../support/app.ts';
import { bearer, createUser, type Http, http, operator } from '../support/auth.ts';
import { startMemoryNode, stopNode } from '../support/in-process.ts';

describe('access tokens', () => {
  let node: AuthlogNode;
  const now = Date.now();
  const issue = async (principalId: string, extra: { days?: number; subnets?: string[] } = {}) => {
    const secret = newTokenSecret();
    const { credentialId } = (
      await node.execute(
        issueAccessToken({
          credentialId: `t-${Math.random().toString(36).slice(2)}`,
          principalId,
          name: 'ci',
          secretHash: hashSecret(secret),
          ...extra,
        }),
        {
          actor: 'system',
        },
      )
    ).result;
    return { secret, credentialId };
  };
  before(async () => {
    node = await startMemoryNode('tokens');
    for (const id of ['app', 'gone'])
      await node.execute(registerPrincipal({ principalId: id, kind: 'service', briefName: id }), {
        actor: 'system',
      });
  });
  after(() => stopNode(node));

  it('authenticates its principal until revoked; revocation is final', async () => {
    const { secret, credentialId } = await issue('app');
    assert.deepEqual(authenticateToken(node.read, secret, '127.0.0.1', now), {
      principalId: 'app',
      credentialId,
    });
    await node.execute(revokeCredential({ credentialId, reason: 'leaked' }), { actor: 'system' });
    assert.equal(authenticateToken(node.read, secret, '127.0.0.1', now), undefined);
  });

  it('stops at expiry, and refuses lifetimes beyond the maximum', async () => {
    const { secret } = await issue('app', { days: 1 });
    assert.ok(
      authenticateToken(node.read, secret, undefined, now + 23 * 3_600_000),
      'valid before expiry',
    );
    assert.equal(authenticateToken(node.read, secret, undefined, now + 25 * 3_600_000), undefined);
    await assert.rejects(
      issue('app', { days: 5000 }),
      (e: unknown) => e instanceof AppError && e.code === 'VALIDATION_FAILED',
    );
  });

  it('is accepted only from its subnets (IPv4, IPv6, IPv4-mapped IPv6)', async () => {
    const { secret } = await issue('app', { subnets: ['10.1.0.0/16', '2001:db8:1::/48'] });
    assert.ok(authenticateToken(node.read, secret, '10.1.2.3', now), 'inside IPv4 range');
    assert.ok(authenticateToken(node.read, secret, '::ffff:10.1.2.3', now), 'IPv4-mapped');
    assert.ok(authenticateToken(node.read, secret, '2001:db8:1:5::9', now), 'inside IPv6 range');
    for (const outside of ['10.2.0.1', '2001:db8:2::1', '127.0.0.1', undefined, 'not-an-ip']) {
      assert.equal(authenticateToken(node.read, secret, outside, now), undefined, String(outside));
    }
  });

  it('dies with its principal, and guessed or malformed tokens match nothing', async () => {
    const { secret } = await issue('gone');
    await node.execute(deactivatePrincipal({ principalId: 'gone' }), { actor: 'system' });
    assert.equal(authenticateToken(node.read, secret, undefined, now), undefined);
    for (const guess of [newTokenSecret(), '', 'alt_', secret.slice(0, -1), `${secret}x`]) {
      assert.equal(authenticateToken(node.read, guess, undefined, now), undefined);
    }
  });

  it('never stores the secret: the log holds only its SHA-256', async () => {
    const { secret } = await issue('app');
    const log = JSON.stringify(
      (await node.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX })).map((r) => r.data),
    );
    assert.ok(
      !log.includes(secret) && !log.includes(secret.slice(4)),
      'secret found in the event log',
    );
    assert.ok(log.includes(hashSecret(secret)), 'hash missing');
  });
});

// The same threats for session tokens (NIST SP 800-63B 7.1 / 7.2; OWASP ASVS 3.3, 3.5; RFC 6750
// 5.3): past the absolute or idle timeout, ended by the user or an administrator, of a
// deactivated principal, guessed, or sent in the query string.
describe('session tokens', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  let pia = '';
  const PASSWORD = 'pia has a password';
  before(async () => {
    ctx = await listenApp('session-tokens', {
      auth: { idleTimeoutS: 600, absoluteTimeoutS: 3600 },
    });
    h = http(ctx.port);
    pia = await createUser(h, 'pia', PASSWORD);
  });
  after(() => ctx.close());

  const login = async () => {
    const r = await h.request('POST', '/v1/auth/login', {
      body: { identity: 'pia', password: PASSWORD, transport: 'bearer' },
    });
    assert.equal(r.status, 200, r.text);
    return { token: String(r.body.token), sessionId: String(r.body.sessionId) };
  };

  it('expires at the absolute timeout and after idling, whatever the activity', async () => {
    const { token, sessionId } = await login();
    const now = Date.now();
    assert.ok(sessionByToken(ctx.node.read, token, now));
    const busy = new Map([[sessionId, now + 3_599_000]]);
    assert.ok(sessionByToken(ctx.node.read, token, now + 3_000_000, busy), 'active: alive');
    assert.equal(
      sessionByToken(ctx.node.read, token, now + 3_601_000, busy),
      undefined,
      'absolute',
    );
    assert.equal(sessionByToken(ctx.node.read, token, now + 601_000), undefined, 'idle');
  });

  it('stops when ended by its user or by an administrator', async () => {
    const own = await login();
    await h.request('DELETE', `/v1/auth/sessions/${own.sessionId}`, { headers: bearer(own.token) });
    assert.equal(
      (await h.request('GET', '/v1/auth/session', { headers: bearer(own.token) })).status,
      401,
    );
    const forced = await login();
    const off = await h.request('POST', `/v1/principals/${pia}/sessions/end`, {
      headers: operator,
    });
    assert.equal(off.status, 200, off.text);
    assert.equal(
      (await h.request('GET', '/v1/auth/session', { headers: bearer(forced.token) })).status,
      401,
    );
  });

  it("another principal's session id is not found, not ended", async () => {
    const mine = await login();
    await createUser(h, 'quinn', 'quinn password 12');
    const q = await h.request('POST', '/v1/auth/login', {
      body: { identity: 'quinn', password: 'quinn password 12', transport: 'bearer' },
    });
    const r = await h.request('DELETE', `/v1/auth/sessions/${mine.sessionId}`, {
      headers: bearer(String(q.body.token)),
    });
    assert.equal(r.status, 404, r.text);
    assert.equal(
      (await h.request('GET', '/v1/auth/session', { headers: bearer(mine.token) })).status,
      200,
    );
  });

  it('is refused in the query string, even when valid', async () => {
    const { token } = await login();
    for (const name of ['access_token', 'token', 'session']) {
      const r = await h.request('GET', `/v1/auth/session?${name}=${token}`, {
        headers: bearer(token),
      });
      assert.equal(r.status, 400, `${name}: ${r.text}`);
      const alone = await h.request('GET', `/v1/principals?${name}=${token}`);
      assert.ok(alone.status === 400 || alone.status === 401, `${name}: ${alone.text}`);
    }
  });

  it('dies with its principal, and guesses match nothing', async () => {
    const { token } = await login();
    await h.request('POST', `/v1/principals/${pia}/deactivate`, { headers: operator, body: {} });
    assert.equal(
      (await h.request('GET', '/v1/auth/session', { headers: bearer(token) })).status,
      401,
    );
    for (const guess of [`als_${'x'.repeat(43)}`, token.slice(0, -1), `${token}x`, token.slice(4)])
      assert.equal(
        (await h.request('GET', '/v1/auth/session', { headers: bearer(guess) })).status,
        401,
      );
  });
});
