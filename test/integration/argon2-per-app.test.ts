// Threat: argon2 parameters kept in a module-level setting are whatever the app built last in the
// process set them to, so an app configured for stronger hashes could write (and accept without a
// rehash) the weaker parameters of another. Each app hashes and rehashes with its own
// `auth.argon2`, however many apps one process builds.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setPassword } from '../../src/authn/credentials.ts';
import { ARGON2_FLOOR, checkNewPassword, hashPassword } from '../../src/authn/passwords.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { listenApp } from '../support/app.ts';
import { createUser, type Http, http } from '../support/auth.ts';

const PASSWORD = 'each app hashes its own way';
const STRONGER = { ...ARGON2_FLOOR, timeCost: ARGON2_FLOOR.timeCost + 1 };

const passwordHashes = async (node: AuthlogNode, principalId: string) =>
  (await node.store.readAll({ streamPrefix: 'origin-' }))
    .filter(
      (e) =>
        e.type === 'PasswordSet' && (e.data as { principalId: string }).principalId === principalId,
    )
    .map((e) => (e.data as { hash: string }).hash);

describe('argon2 parameters are per app', () => {
  let floor: Awaited<ReturnType<typeof listenApp>>;
  let stronger: Awaited<ReturnType<typeof listenApp>>;
  let hf: Http;
  let hs: Http;
  before(async () => {
    // The stronger app is built first: a module-level setting would leave the floor in force.
    stronger = await listenApp('argon-strong', { auth: { argon2: STRONGER } });
    floor = await listenApp('argon-floor', { auth: { argon2: ARGON2_FLOOR } });
    hf = http(floor.port);
    hs = http(stronger.port);
  });
  after(async () => {
    await floor.close();
    await stronger.close();
  });

  it('two apps in one process set passwords with their own parameters', async () => {
    const a = await createUser(hf, 'fiona', PASSWORD);
    const b = await createUser(hs, 'stella', PASSWORD);
    const [fa] = await passwordHashes(floor.node, a);
    const [sb] = await passwordHashes(stronger.node, b);
    assert.match(fa ?? '', /\$m=19456,t=2,p=1\$/);
    assert.match(sb ?? '', /\$m=19456,t=3,p=1\$/);
  });

  it('each app decides a rehash at login by its own parameters', async () => {
    const hash = await hashPassword(checkNewPassword(PASSWORD), ARGON2_FLOOR);
    const counts: number[] = [];
    for (const [ctx, h, name] of [
      [floor, hf, 'flora'],
      [stronger, hs, 'stan'],
    ] as const) {
      const id = await createUser(h, name, undefined);
      await ctx.node.execute(setPassword({ credentialId: `pw-${id}`, principalId: id, hash }), {
        actor: 'system',
      });
      const r = await h.request('POST', '/v1/auth/login', {
        body: { identity: name, password: PASSWORD, transport: 'bearer' },
      });
      assert.equal(r.status, 200, r.text);
      const hashes = await passwordHashes(ctx.node, id);
      counts.push(hashes.length);
      if (ctx === stronger) assert.match(hashes[1] ?? '', /\$m=19456,t=3,p=1\$/);
    }
    assert.deepEqual(counts, [1, 2], 'the floor app keeps a floor hash, the stronger one rehashes');
  });
});
