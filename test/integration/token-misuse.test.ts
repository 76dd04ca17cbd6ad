// Threat: access-token misuse — a revoked, expired, foreign-subnet or guessed token, or the token
// of a deactivated principal, authenticating anyone; a token's secret reaching the event log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deactivatePrincipal, registerPrincipal } from '../../src/authn/principals.ts';
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
