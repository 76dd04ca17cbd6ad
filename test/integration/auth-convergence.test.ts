// Two sites, concurrent authentication events: a lockout at one site while an administrator
// unlocks at the other; a session ended at one site while evidence is added to it at the other;
// a principal deactivated at one site while it logs in at the other. Once both hold every event,
// their read models have the same digest and agree on the outcome (DESIGN.md section 5).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultAuthConfig } from '../../src/authn/auth-config.ts';
import { setPassword } from '../../src/authn/credentials.ts';
import { lockoutState, recordFailure, unlockPrincipal } from '../../src/authn/lockout.ts';
import { passwordProvider } from '../../src/authn/password-provider.ts';
import { ARGON2_FLOOR, checkNewPassword, hashPassword } from '../../src/authn/passwords.ts';
import { deactivatePrincipal, registerPrincipal } from '../../src/authn/principals.ts';
import { endSession } from '../../src/authn/sessions/end.ts';
import { prepareEvidence } from '../../src/authn/sessions/evidence.ts';
import { login } from '../../src/authn/sessions/login.ts';
import { addEvidence } from '../../src/authn/sessions/step-up.ts';
import { newSessionToken } from '../../src/authn/sessions/token.ts';
import { sessionByToken } from '../../src/authn/sessions/views.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';

const PASSWORD = 'two sites, one password';
const settings = { ...defaultAuthConfig, lockoutThreshold: 2 };
const providers = [passwordProvider];
const sys = { actor: 'system' };

const exchange = async (a: AuthlogNode, b: AuthlogNode) => {
  await pull(a, b);
  await pull(b, a);
};

const startSession = async (node: AuthlogNode, principalId: string) => {
  const presented = { password: PASSWORD };
  const attempt = { principalId, presented, ip: '127.0.0.1' };
  const prepared = await prepareEvidence(providers, node.read, attempt, Date.now(), {
    argon2: ARGON2_FLOOR,
  });
  const { token, hash } = newSessionToken();
  const sessionId = `s-${hash.slice(0, 12)}`;
  const { result } = await node.execute(
    login({
      sessionId,
      tokenHash: hash,
      transport: 'bearer',
      principalId,
      identity: principalId,
      presented,
      ip: '127.0.0.1',
      prepared,
      providers,
      settings,
    }),
    sys,
  );
  assert.equal(result.ok, true);
  return { sessionId, token };
};

describe('authentication converges across two sites', () => {
  let a: AuthlogNode;
  let b: AuthlogNode;
  before(async () => {
    a = await startMemoryNode('site-a');
    b = await startMemoryNode('site-b');
    const hash = await hashPassword(checkNewPassword(PASSWORD), ARGON2_FLOOR);
    for (const id of ['pat', 'sam', 'kim']) {
      await a.execute(registerPrincipal({ principalId: id, kind: 'person', briefName: id }), sys);
      await a.execute(setPassword({ credentialId: `pw-${id}`, principalId: id, hash }), sys);
    }
    await exchange(a, b);
  });
  after(async () => {
    await stopNode(a);
    await stopNode(b);
  });

  it('a lockout concurrent with an unlock wins; a later unlock ends it', async () => {
    const failure = {
      principalId: 'pat',
      reason: 'password',
      step: 'login' as const,
      identity: 'pat',
    };
    await a.execute(recordFailure(failure, settings), sys);
    await exchange(a, b);
    // Site A sees the second failure and locks; site B, not knowing, unlocks the first.
    await a.execute(recordFailure(failure, settings), sys);
    const unlocked = await b.execute(unlockPrincipal({ principalId: 'pat' }), sys);
    assert.equal(unlocked.result.unlocked, true);
    assert.equal(lockoutState(b.read, 'pat', Date.now()).lockedUntil, null);
    await exchange(a, b);
    assert.equal(a.digest(), b.digest());
    for (const n of [a, b])
      assert.notEqual(lockoutState(n.read, 'pat', Date.now()).lockedUntil, null, n.id);
    await b.execute(unlockPrincipal({ principalId: 'pat' }), sys);
    await exchange(a, b);
    assert.equal(a.digest(), b.digest());
    for (const n of [a, b]) assert.equal(lockoutState(n.read, 'pat', Date.now()).lockedUntil, null);
  });

  it('a session ended at one site stays ended though the other added evidence to it', async () => {
    const { sessionId, token } = await startSession(a, 'sam');
    await exchange(a, b);
    assert.ok(sessionByToken(b.read, token, Date.now()), 'replicated and usable at B');
    await a.execute(endSession({ sessionId }), { actor: 'sam' });
    const presented = { password: PASSWORD };
    const prepared = await prepareEvidence(
      providers,
      b.read,
      { principalId: 'sam', presented, ip: '127.0.0.1' },
      Date.now(),
      { argon2: ARGON2_FLOOR },
    );
    const rotated = newSessionToken();
    const added = await b.execute(
      addEvidence({
        sessionId,
        tokenHash: rotated.hash,
        presented,
        ip: '127.0.0.1',
        prepared,
        providers,
        settings,
      }),
      { actor: 'sam' },
    );
    assert.equal(added.result.ok, true);
    assert.ok(sessionByToken(b.read, rotated.token, Date.now()), 'B rotated the token');
    await exchange(a, b);
    assert.equal(a.digest(), b.digest());
    for (const n of [a, b]) {
      assert.equal(sessionByToken(n.read, rotated.token, Date.now()), undefined, n.id);
      assert.equal(sessionByToken(n.read, token, Date.now()), undefined, n.id);
    }
  });

  it('a login at one site while the principal is deactivated at the other never counts', async () => {
    await a.execute(deactivatePrincipal({ principalId: 'kim' }), sys);
    const { token } = await startSession(b, 'kim');
    assert.ok(sessionByToken(b.read, token, Date.now()), 'usable at B until it hears');
    await exchange(a, b);
    assert.equal(a.digest(), b.digest());
    for (const n of [a, b])
      assert.equal(sessionByToken(n.read, token, Date.now()), undefined, n.id);
  });
});
