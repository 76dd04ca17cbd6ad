// Threat: a site catching up after a cut throttled by the serving peer's per-client limit (its
// pullers starve and lag grows), or, the other way round, anyone claiming to be a peer to escape
// the global limit. Only a token of a principal holding authlog.replicate gets the replication
// bucket; every other request, with a bad token too, counts against its address as before.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { hashSecret, issueAccessToken, newTokenSecret } from '../../src/authn/tokens.ts';
import { addRoleMember, createRole, setGrant } from '../../src/authz/commands.ts';
import type { App } from '../../src/http/types.ts';
import { startApp, TOKEN } from '../support/app.ts';

const sys = { actor: 'system' };

describe('rate limits for replication peers', () => {
  let app: App;
  let close: () => Promise<void>;
  let replicator: string;
  let plain: string;

  before(async () => {
    const started = await startApp('rl', {
      edge: {
        rateLimit: { max: 3, windowMs: 60_000 },
        replicationRateLimit: { max: 50, windowMs: 60_000 },
      },
    });
    app = started.app;
    close = started.close;
    const { node } = started;
    const token = async (principalId: string) => {
      const secret = newTokenSecret();
      await node.execute(
        registerPrincipal({ principalId, kind: 'service', briefName: principalId }),
        sys,
      );
      await node.execute(
        issueAccessToken({
          credentialId: `${principalId}-token`,
          principalId,
          name: 'test',
          secretHash: hashSecret(secret),
        }),
        sys,
      );
      return secret;
    };
    replicator = await token('peer-site');
    plain = await token('someone');
    await node.execute(createRole({ roleId: 'replicators', name: 'replicators' }), sys);
    await node.execute(
      setGrant({ roleId: 'replicators', privilege: 'authlog.replicate', effect: 'grant' }),
      sys,
    );
    await node.execute(addRoleMember({ roleId: 'replicators', principalId: 'peer-site' }), sys);
  });
  after(() => close());

  const get = (url: string, token: string) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  it('a replication principal pulls far past the global limit; others are held to it', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await get('/v1/replication/feed?limit=10', replicator);
      assert.equal(r.statusCode, 200, `pull ${i}: ${r.body}`);
    }
    // The operator token serves peers too (as `system`), in its own bucket.
    for (let i = 0; i < 5; i++)
      assert.equal((await get('/v1/replication/status', TOKEN)).statusCode, 200);
    // Same address, other routes or other principals: the global bucket of 3.
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await get('/v1/replication/feed', plain)).statusCode);
    assert.deepEqual(codes, [403, 403, 403, 429]);
  });

  it('a made-up bearer token on the feed counts against the address, not a peer bucket', async () => {
    const r = await get('/v1/replication/feed', 'alt_not-a-real-token');
    assert.equal(r.statusCode, 429);
  });
});
