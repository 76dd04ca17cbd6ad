// Threat: a cloned authenticator (its private key copied out) used beside the real one, at one
// site or at two sites cut off from each other, and a passkey revoked at one site still used at
// another. W3C WebAuthn Level 3 6.1.1 (signature counter: a counter not above the stored one, when
// either is non-zero, signals a possible clone; 0 means the authenticator keeps none, as synced
// passkeys do) and 7.2 step 22; NIST SP 800-63B rev 4 5.1.9.2 (replay resistance). Across sites the
// highest counter seen is a max register (arrival order does not matter), and only one counter
// accepted twice, which one authenticator never produces, is a conflict: the later use's session
// ends on every node (the single-use rule, docs/single-use.md).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditEntries } from '../../projections/audit.ts';
import type { App } from '../../src/http/types.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { listConflicts } from '../../src/readmodel/conflicts.ts';
import { startApp } from '../support/app.ts';
import { pull } from '../support/in-process.ts';
import { testTrust } from '../support/keys.ts';
import {
  authenticator,
  bearer,
  expect,
  passkeyLogin,
  passwordSession,
  person,
  registerPasskey,
  WEBAUTHN,
} from '../support/webauthn.ts';

const PASSWORD = 'a long enough passphrase 4711';

/** A copy of the authenticator's key store as it is now: a clone made by copying the key out. */
const cloneOf = (device: ReturnType<typeof authenticator>) => {
  const { credentialsRepository: _, ...params } = device.params;
  const copy = authenticator(params);
  const repository = copy.params.credentialsRepository;
  assert.ok(repository && device.params.credentialsRepository);
  for (const c of device.params.credentialsRepository.loadCredentials())
    repository.saveCredential(c);
  return copy;
};

const failures = (node: AuthlogNode, principalId: string): string[] =>
  auditEntries(node.read, {
    subject: principalId,
    types: ['AuthenticationFailed'],
    order: 'asc',
    limit: 100,
  }).map((e) => e.summary);

const clones = (node: AuthlogNode) =>
  listConflicts(node.read).filter(
    (c) => c.kind === 'single-use' && c.scope.startsWith('secret:passkey:'),
  );

type Site = { app: App; node: AuthlogNode; close(): Promise<void> };

describe('passkey signature counters and revocation across sites', () => {
  let a: Site;
  let b: Site;
  before(async () => {
    a = await startApp('site-a', { webauthn: WEBAUTHN, trust: testTrust('site-a') });
    b = await startApp('site-b', { webauthn: WEBAUTHN, trust: testTrust('site-b') });
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  /** A principal with a passkey registered at site a, replicated to b. */
  const withPasskey = async (name: string, params = {}) => {
    const id = await person(a.app, name, PASSWORD);
    const token = await passwordSession(a.app, name, PASSWORD, true);
    const device = authenticator(params);
    const { credentialId } = await registerPasskey(a.app, bearer(token), id, device.device);
    await pull(a.node, b.node);
    return { id, device, credentialId, token };
  };

  it('refuses a counter that goes backwards and records why (a possibly cloned authenticator)', async () => {
    const { id, device } = await withPasskey('ann');
    assert.equal((await passkeyLogin(a.app, device.device)).status, 200);
    const clone = cloneOf(device); // copied at counter 1
    assert.equal((await passkeyLogin(a.app, device.device)).status, 200); // 2
    assert.equal((await passkeyLogin(a.app, device.device)).status, 200); // 3
    const r = await passkeyLogin(a.app, clone.device); // 2 again
    assert.equal(r.status, 401);
    assert.ok(
      failures(a.node, id).some((s) => s.includes('passkey:counter')),
      failures(a.node, id).join('\n'),
    );
    assert.equal((await passkeyLogin(a.app, device.device)).status, 200, 'the original goes on');
  });

  it('never flags a synced passkey whose counter is always 0', async () => {
    const { id, device } = await withPasskey('bea', { signCounterIncrement: 0 });
    for (const site of [a, b, a, b])
      assert.equal((await passkeyLogin(site.app, device.device)).status, 200);
    await pull(a.node, b.node);
    await pull(b.node, a.node);
    assert.deepEqual(failures(a.node, id), []);
    const listed = await expect(
      200,
      a.app,
      'GET',
      `/v1/principals/${id}/passkeys`,
      bearer(await passwordSession(a.app, 'bea', PASSWORD)),
    );
    assert.equal((listed.items as { counter: number }[])[0]?.counter, 0);
  });

  it('takes counters accepted at two cut-off sites in either order, and lists one counter accepted twice', async () => {
    const { id, device, credentialId } = await withPasskey('cyd');
    // One authenticator used at a, then at b, before they exchange: 1 at a, 2 at b. Whatever
    // order the uses arrive in, the register ends at 2 and nothing is a clone.
    assert.equal((await passkeyLogin(a.app, device.device)).status, 200);
    assert.equal((await passkeyLogin(b.app, device.device)).status, 200);
    await pull(b.node, a.node);
    await pull(a.node, b.node);
    assert.deepEqual(clones(a.node), []);
    assert.deepEqual(clones(b.node), []);
    // A clone used at b while the original is used at a, cut off: each site accepts counter 3.
    const clone = cloneOf(device);
    const original = await passkeyLogin(a.app, device.device);
    assert.equal(original.status, 200);
    await new Promise((r) => setTimeout(r, 5));
    const cloned = await passkeyLogin(b.app, clone.device);
    assert.equal(cloned.status, 200);
    await pull(a.node, b.node);
    await pull(b.node, a.node);
    const clonedSession = String(cloned.body.sessionId);
    for (const site of [a, b]) {
      const found = clones(site.node);
      assert.equal(found.length, 1, site.node.id);
      assert.equal(found[0]?.scope, `secret:passkey:${credentialId}:3`);
      assert.match(found[0]?.detail ?? '', new RegExp(`session ${clonedSession} ended`));
      // The later use (the clone's, at b) lost its session on both sites; the first kept its own.
      assert.equal(
        (
          await site.app.inject({
            url: '/v1/auth/session',
            headers: bearer(String(cloned.body.token)),
          })
        ).statusCode,
        401,
      );
      assert.equal(
        (
          await site.app.inject({
            url: '/v1/auth/session',
            headers: bearer(String(original.body.token)),
          })
        ).statusCode,
        200,
      );
    }
    assert.equal(a.node.digest(), b.node.digest());
    // From now on the clone's next counter (4) and the original's (4) race; whichever comes
    // second at a site is refused there.
    assert.equal((await passkeyLogin(a.app, device.device)).status, 200);
    assert.equal((await passkeyLogin(a.app, clone.device)).status, 401);
    assert.ok(failures(a.node, id).some((s) => s.includes('passkey:counter')));
  });

  it('refuses a passkey revoked at one site at the other once the revocation has replicated', async () => {
    const { id, device, credentialId, token } = await withPasskey('dee');
    await expect(200, a.app, 'DELETE', `/v1/credentials/${credentialId}`, bearer(token));
    assert.equal((await passkeyLogin(a.app, device.device)).status, 401, 'at the revoking site');
    // Cut off, b has not heard of it yet: the window multi-master leaves (docs/passkeys.md).
    assert.equal((await passkeyLogin(b.app, device.device)).status, 200, 'before it replicates');
    await pull(a.node, b.node);
    assert.equal((await passkeyLogin(b.app, device.device)).status, 401, 'after');
    // A revocation that reaches b while b verifies an assertion (between prepare and decide) is
    // caught by decide, which reads the credential again: `passkey:revoked`.
    await pull(b.node, a.node);
    const listed = await expect(200, b.app, 'GET', `/v1/principals/${id}/passkeys`, bearer(token));
    assert.equal((listed.items as { revoked: boolean }[])[0]?.revoked, true);
  });
});
