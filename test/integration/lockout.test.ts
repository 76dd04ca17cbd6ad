// Threat: online password guessing against one account (NIST SP 800-63B 5.2.2; OWASP ASVS
// 2.2.1). After a configured number of consecutive failures the principal is locked out, even the
// right password is refused, with the same answer as any failure; the lockout is an event, ends
// at its expiry or by an administrator, and each further lockout lasts twice as long. Basic
// credentials count and are refused alike. A success resets the count.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultAuthConfig } from '../../src/authn/auth-config.ts';
import { lockoutState, recordFailure } from '../../src/authn/lockout.ts';
import { listenApp } from '../support/app.ts';
import { basic, createUser, type Http, http, operator } from '../support/auth.ts';

const PASSWORD = 'the right horse battery';
const THRESHOLD = 3;
const auth = { lockoutThreshold: THRESHOLD, lockoutBaseS: 60 };

describe('lockout after consecutive failures', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  before(async () => {
    ctx = await listenApp('lockout', { auth });
    h = http(ctx.port);
  });
  after(() => ctx.close());

  const login = (identity: string, password: string) =>
    h.request('POST', '/v1/auth/login', { body: { identity, password } });
  const problem = (r: { status: number; body: Record<string, unknown> }) => ({
    status: r.status,
    code: r.body.code,
    title: r.body.title,
    detail: r.body.detail,
  });

  it('locks after the threshold; then even the right password gets the same refusal', async () => {
    const id = await createUser(h, 'lena', PASSWORD);
    const wrong = await login('lena', 'guess number one');
    assert.equal(wrong.status, 401);
    for (let i = 1; i < THRESHOLD; i++) await login('lena', `guess number ${i + 1}`);
    const state = await h.request('GET', `/v1/principals/${id}/lockout`, { headers: operator });
    assert.equal(state.status, 200, state.text);
    assert.equal(state.body.failures, THRESHOLD);
    assert.ok(Date.parse(String(state.body.lockedUntil)) > Date.now(), 'locked');
    const right = await login('lena', PASSWORD);
    assert.deepEqual(
      problem(right),
      problem(wrong),
      'a locked account answers like a wrong password',
    );
    // Basic is refused too while locked.
    const b = await h.request('GET', `/v1/principals/${id}`, { headers: basic('lena', PASSWORD) });
    assert.equal(b.status, 401);
    // An administrator unlocks; the right password works again.
    const unlock = await h.request('POST', `/v1/principals/${id}/unlock`, { headers: operator });
    assert.equal(unlock.status, 200, unlock.text);
    assert.equal(unlock.body.unlocked, true);
    assert.equal((await login('lena', PASSWORD)).status, 200);
  });

  it('the lockout and the failures are events; no password appears in them', async () => {
    const events = await ctx.node.store.readAll({ streamPrefix: 'origin-' });
    const types = events.map((e) => e.type);
    assert.ok(types.includes('PrincipalLockedOut'));
    assert.ok(types.includes('PrincipalUnlocked'));
    const log = JSON.stringify(events.map((e) => e.data));
    assert.ok(!log.includes(PASSWORD) && !log.includes('guess number'), 'a password in the log');
    const failed = events.find((e) => e.type === 'AuthenticationFailed');
    assert.ok(failed);
    assert.deepEqual((failed.data as { pii: unknown }).pii, { identity: 'lena' });
  });

  it('a success resets the count', async () => {
    const id = await createUser(h, 'omar', PASSWORD);
    for (let round = 0; round < 3; round++) {
      for (let i = 1; i < THRESHOLD; i++)
        assert.equal((await login('omar', 'wrong one')).status, 401);
      assert.equal((await login('omar', PASSWORD)).status, 200, `round ${round}`);
    }
    assert.equal(lockoutState(ctx.node.read, id, Date.now()).lockedUntil, null);
  });

  it('Basic failures count towards the same lockout', async () => {
    const id = await createUser(h, 'batch-job', PASSWORD, 'service');
    for (let i = 0; i < THRESHOLD; i++) {
      const r = await h.request('GET', `/v1/principals/${id}`, {
        headers: basic('batch-job', 'not the secret'),
      });
      assert.equal(r.status, 401);
    }
    assert.notEqual(lockoutState(ctx.node.read, id, Date.now()).lockedUntil, null);
    assert.equal((await login('batch-job', PASSWORD)).status, 401);
  });

  it('ends by itself at expiry; each further lockout lasts twice as long until an unlock', async () => {
    const id = await createUser(h, 'ivy', PASSWORD);
    const settings = { ...defaultAuthConfig, ...auth };
    const failure = {
      principalId: id,
      reason: 'password',
      step: 'login' as const,
      identity: 'ivy',
    };
    const t0 = Date.now();
    for (let i = 0; i < THRESHOLD; i++)
      await ctx.node.execute(recordFailure(failure, settings), { actor: 'anonymous', now: t0 });
    const first = lockoutState(ctx.node.read, id, t0);
    assert.equal(Date.parse(String(first.lockedUntil)), t0 + 60_000);
    assert.equal(lockoutState(ctx.node.read, id, t0 + 60_001).lockedUntil, null, 'expired');
    // The count was not reset by the expiry: one more failure locks again, for twice as long.
    const t1 = t0 + 61_000;
    await ctx.node.execute(recordFailure(failure, settings), { actor: 'anonymous', now: t1 });
    const second = lockoutState(ctx.node.read, id, t1);
    assert.equal(Date.parse(String(second.lockedUntil)), t1 + 120_000);
    assert.equal(second.lockouts, 2);
    // Let in by an administrator, the principal starts again at the base duration.
    const unlock = await h.request('POST', `/v1/principals/${id}/unlock`, { headers: operator });
    assert.equal(unlock.status, 200, unlock.text);
    assert.equal(lockoutState(ctx.node.read, id, t1).lockouts, 0);
    const t2 = t1 + 121_000;
    for (let i = 0; i < THRESHOLD; i++)
      await ctx.node.execute(recordFailure(failure, settings), { actor: 'anonymous', now: t2 });
    const third = lockoutState(ctx.node.read, id, t2);
    assert.equal(Date.parse(String(third.lockedUntil)), t2 + 60_000);
    assert.equal(third.lockouts, 1);
  });

  it('unknown identities lock nobody out and are answered alike', async () => {
    const r = await login('nobody-at-all', 'whatever it is');
    assert.equal(r.status, 401);
    assert.equal(r.body.code, 'AUTHENTICATION_FAILED');
  });
});
