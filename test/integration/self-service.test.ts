// Issue 4, the self-service part, over real HTTP on loopback: password change by the user,
// registration by email with a verification token from the outbox, password reset that bypasses
// neither MFA (codes from oathtool) nor the lockout, and bad input everywhere (problem+json,
// nothing changed: the node's digest is the same before and after).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isEmailVerified } from '../../src/authn/self-service.ts';
import { listenApp } from '../support/app.ts';
import { bearer, createUser, type Http, http, operator, operatorCall } from '../support/auth.ts';
import { oathTotp } from '../support/oathtool.ts';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase, 2026';

type Mail = { to: string; purpose: string; token?: string; text: string; file: string };

const mails = (dir: string): Mail[] => {
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.sort().map((n) => ({
    ...(JSON.parse(readFileSync(join(dir, n), 'utf8')) as Omit<Mail, 'file'>),
    file: join(dir, n),
  }));
};

/** Waits (bounded) for the `n`th mail of `purpose` to `to`: the work is done after the answer. */
const mailFor = async (dir: string, to: string, purpose: string, n = 1): Promise<Mail> => {
  for (let i = 0; i < 500; i++) {
    const found = mails(dir).filter((m) => m.to === to && m.purpose === purpose);
    if (found.length >= n) return found[n - 1]!;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${purpose} mail to ${to}`);
};

const login = async (h: Http, identity: string, password: string) =>
  h.request('POST', '/v1/auth/login', { body: { identity, password, transport: 'bearer' } });

const session = async (h: Http, identity: string, password: string): Promise<string> => {
  const r = await login(h, identity, password);
  assert.equal(r.status, 200, r.text);
  return String(r.body.token);
};

const problem = (r: { status: number; body: Record<string, unknown>; headers: Headers }) => {
  assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
  return r.body;
};

describe('self-service over HTTP', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  let outbox = '';

  const register = async (email: string, password = PASSWORD) => {
    const r = await h.request('POST', '/v1/auth/register', {
      body: { email, briefName: email.split('@')[0], password },
    });
    assert.equal(r.status, 202, r.text);
    return r;
  };
  const registered = async (email: string): Promise<{ principalId: string; token: string }> => {
    await register(email);
    const mail = await mailFor(outbox, email, 'verify-email');
    const r = await login(h, email, PASSWORD);
    assert.equal(r.status, 200, r.text);
    return { principalId: String(r.body.principalId), token: String(mail.token) };
  };

  before(async () => {
    outbox = mkdtempSync(join(tmpdir(), 'authlog-outbox-'));
    ctx = await listenApp('self-service', {
      auth: { registration: 'open', outboxDir: outbox, lockoutThreshold: 3 },
    });
    h = http(ctx.port);
  });
  after(async () => {
    await ctx.close();
    rmSync(outbox, { recursive: true, force: true });
  });

  describe('password change', () => {
    it('needs the current password; a wrong one is 401 and counts towards the lockout', async () => {
      const id = await createUser(h, 'chris', PASSWORD);
      const token = await session(h, 'chris', PASSWORD);
      const wrong = await h.request('POST', '/v1/auth/password', {
        headers: bearer(token),
        body: { currentPassword: 'not my password', newPassword: NEW_PASSWORD },
      });
      assert.equal(wrong.status, 401, wrong.text);
      assert.equal(problem(wrong).code, 'AUTHENTICATION_FAILED');
      const lock = await h.request('GET', `/v1/principals/${id}/lockout`, { headers: operator });
      assert.equal(lock.body.failures, 1, 'the wrong current password counted');
      assert.equal((await login(h, 'chris', PASSWORD)).status, 200, 'the password is unchanged');
    });

    it('ends the other sessions by default; the current one survives without its elevation', async () => {
      await createUser(h, 'dana', PASSWORD);
      let current = await session(h, 'dana', PASSWORD);
      const other = await session(h, 'dana', PASSWORD);
      const elevated = await h.request('POST', '/v1/auth/elevate', {
        headers: bearer(current),
        body: { password: PASSWORD },
      });
      assert.equal(elevated.status, 200, elevated.text);
      assert.notEqual(elevated.body.elevatedUntil, null);
      current = String(elevated.body.token);
      const r = await h.request('POST', '/v1/auth/password', {
        headers: bearer(current),
        body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { changed: true, endedSessions: 1 });
      const me = await h.request('GET', '/v1/auth/session', { headers: bearer(current) });
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.elevatedUntil, null, 'a password change ends the elevation');
      const gone = await h.request('GET', '/v1/auth/session', { headers: bearer(other) });
      assert.equal(gone.status, 401, 'the other session ended');
      assert.equal((await login(h, 'dana', PASSWORD)).status, 401, 'the old password is gone');
      assert.equal((await login(h, 'dana', NEW_PASSWORD)).status, 200);
    });

    it('keeps the other sessions when asked to', async () => {
      await createUser(h, 'eli', PASSWORD);
      const current = await session(h, 'eli', PASSWORD);
      const other = await session(h, 'eli', PASSWORD);
      const r = await h.request('POST', '/v1/auth/password', {
        headers: bearer(current),
        body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, endOtherSessions: false },
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.endedSessions, 0);
      const kept = await h.request('GET', '/v1/auth/session', { headers: bearer(other) });
      assert.equal(kept.status, 200, kept.text);
    });

    it('refuses bad input with problem+json and changes nothing (no failure counted)', async () => {
      const id = await createUser(h, 'fay', PASSWORD);
      const token = await session(h, 'fay', PASSWORD);
      const before = ctx.node.digest();
      const cases: [unknown, number, string][] = [
        [{ currentPassword: PASSWORD, newPassword: 'password' }, 400, 'VALIDATION_FAILED'],
        [{ currentPassword: PASSWORD, newPassword: 'short' }, 400, 'VALIDATION_FAILED'],
        [
          { currentPassword: PASSWORD, newPassword: `a\u0000${PASSWORD}` },
          400,
          'VALIDATION_FAILED',
        ],
        [{ currentPassword: PASSWORD }, 400, 'VALIDATION_FAILED'],
        [{ currentPassword: PASSWORD, newPassword: NEW_PASSWORD, x: 1 }, 400, 'VALIDATION_FAILED'],
        [{ currentPassword: 1, newPassword: NEW_PASSWORD }, 400, 'VALIDATION_FAILED'],
      ];
      for (const [body, status, code] of cases) {
        const r = await h.request('POST', '/v1/auth/password', { headers: bearer(token), body });
        assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(problem(r).code, code);
      }
      // Not a session: an operator token has no password to change here.
      const op = await h.request('POST', '/v1/auth/password', {
        headers: operator,
        body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      });
      assert.equal(op.status, 404, op.text);
      assert.equal(ctx.node.digest(), before, 'bad input changed nothing');
      const lock = await h.request('GET', `/v1/principals/${id}/lockout`, { headers: operator });
      assert.equal(lock.body.failures, 0);
    });
  });

  describe('registration by email', () => {
    it('registers, mails a single-use token (0600 file, only its hash in events), verifies the address', async () => {
      const email = 'Gina@Example.org';
      const r = await register(email);
      assert.equal(r.body.status, 'check-your-mail');
      const mail = await mailFor(outbox, email, 'verify-email');
      assert.match(String(mail.token), /^alv_[A-Za-z0-9_-]{43}$/);
      assert.equal(statSync(mail.file).mode & 0o777, 0o600);
      // Active with an unverified address: the user can log in with the address as identity.
      const logged = await login(h, 'gina@example.org', PASSWORD);
      assert.equal(logged.status, 200, logged.text);
      const principalId = String(logged.body.principalId);
      assert.equal(isEmailVerified(ctx.node.read, principalId), false);
      const events = JSON.stringify(
        ctx.node.read.all(
          "SELECT token_hash FROM account_tokens WHERE principal_id = ? AND purpose = 'verify-email'",
          principalId,
        ),
      );
      assert.ok(!events.includes(String(mail.token)), 'the token is stored only hashed');
      const v = await h.request('POST', '/v1/auth/verify-email', { body: { token: mail.token } });
      assert.equal(v.status, 200, v.text);
      assert.deepEqual(v.body, { emailVerified: true });
      assert.equal(isEmailVerified(ctx.node.read, principalId), true);
      const again = await h.request('POST', '/v1/auth/verify-email', {
        body: { token: mail.token },
      });
      assert.equal(again.status, 400, 'single use');
      assert.equal(problem(again).code, 'TOKEN_INVALID');
    });

    it('answers the same for an address already registered, mails its owner, creates nothing', async () => {
      const email = 'hugo@example.org';
      const first = await register(email);
      await mailFor(outbox, email, 'verify-email');
      const before = ctx.node.digest();
      const second = await register('HUGO@example.org', 'another good passphrase');
      assert.equal(second.status, first.status);
      assert.deepEqual(second.body, first.body);
      assert.equal(second.headers.get('content-type'), first.headers.get('content-type'));
      const notice = await mailFor(outbox, 'HUGO@example.org', 'account-exists');
      assert.equal(notice.token, undefined);
      assert.equal(ctx.node.digest(), before, 'no second principal');
      assert.equal((await login(h, email, 'another good passphrase')).status, 401);
    });

    it('refuses bad input with problem+json and changes nothing', async () => {
      const before = ctx.node.digest();
      const bad: unknown[] = [
        { email: 'not-an-address', briefName: 'x', password: PASSWORD },
        { email: 'ivy@example.org', briefName: 'ivy', password: 'password' },
        { email: 'ivy@example.org', briefName: '', password: PASSWORD },
        { email: 'ivy@example.org', briefName: 'ivy' },
        { email: 'ivy@example.org', briefName: 'ivy', password: PASSWORD, admin: true },
      ];
      for (const body of bad) {
        const r = await h.request('POST', '/v1/auth/register', { body });
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(problem(r).code, 'VALIDATION_FAILED');
      }
      for (const token of ['alv_short', `alr_${'A'.repeat(43)}`, `alv_${'A'.repeat(43)}`]) {
        const r = await h.request('POST', '/v1/auth/verify-email', { body: { token } });
        assert.equal(r.status, 400, r.text);
        assert.match(String(problem(r).code), /^(VALIDATION_FAILED|TOKEN_INVALID)$/);
      }
      assert.equal(ctx.node.digest(), before);
      assert.equal(
        mails(outbox).filter((m) => m.to === 'ivy@example.org').length,
        0,
        'no mail for refused input',
      );
    });
  });

  describe('password reset', () => {
    it('same answer for known and unknown identities; single use; ends every session', async () => {
      const email = 'jo@example.org';
      const { principalId } = await registered(email);
      const s1 = await session(h, email, PASSWORD);
      const unknown = await h.request('POST', '/v1/auth/reset/request', {
        body: { identity: 'nobody@example.org' },
      });
      const known = await h.request('POST', '/v1/auth/reset/request', {
        body: { identity: email },
      });
      assert.equal(unknown.status, 202);
      assert.equal(known.status, 202);
      assert.deepEqual(unknown.body, known.body);
      const mail = await mailFor(outbox, email, 'reset-password');
      assert.equal(mails(outbox).filter((m) => m.to === 'nobody@example.org').length, 0);
      const done = await h.request('POST', '/v1/auth/reset/complete', {
        body: { token: mail.token, password: NEW_PASSWORD },
      });
      assert.equal(done.status, 200, done.text);
      assert.equal(done.body.passwordChanged, true);
      assert.ok(Number(done.body.endedSessions) >= 2, done.text);
      const s1After = await h.request('GET', '/v1/auth/session', { headers: bearer(s1) });
      assert.equal(s1After.status, 401, 'sessions end at a reset');
      assert.equal((await login(h, email, PASSWORD)).status, 401);
      const ok = await login(h, email, NEW_PASSWORD);
      assert.equal(ok.status, 200);
      assert.equal(ok.body.principalId, principalId);
      const twice = await h.request('POST', '/v1/auth/reset/complete', {
        body: { token: mail.token, password: 'yet another passphrase 1' },
      });
      assert.equal(twice.status, 400, 'single use');
      assert.equal(problem(twice).code, 'TOKEN_INVALID');
    });

    it('does not bypass MFA: the next login still needs the OTP (oathtool)', async () => {
      const email = 'kim@example.org';
      const { principalId } = await registered(email);
      const otp = await h.request('POST', `/v1/principals/${principalId}/otp`, {
        headers: operator,
        body: { name: 'phone' },
      });
      assert.equal(otp.status, 201, otp.text);
      const secret = String(otp.body.secret);
      const confirm = await h.request('POST', `/v1/credentials/${otp.body.credentialId}/confirm`, {
        headers: operator,
        body: { code: oathTotp(secret, Date.now()) },
      });
      assert.equal(confirm.status, 200, confirm.text);
      const policy = await h.request('PUT', `/v1/auth/policies/principal/${principalId}`, {
        headers: operator,
        body: { require: ['knowledge', 'ownership'] },
      });
      assert.equal(policy.status, 200, policy.text);
      await h.request('POST', '/v1/auth/reset/request', { body: { identity: email } });
      const mail = await mailFor(outbox, email, 'reset-password');
      const done = await h.request('POST', '/v1/auth/reset/complete', {
        body: { token: mail.token, password: NEW_PASSWORD },
      });
      assert.equal(done.status, 200, done.text);
      const r = await login(h, email, NEW_PASSWORD);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.complete, false, 'the password alone is not enough after a reset');
      assert.deepEqual(r.body.missing, ['ownership']);
      const token = String(r.body.token);
      const blocked = await h.request('GET', '/v1/auth/sessions', { headers: bearer(token) });
      assert.equal(blocked.status, 403, blocked.text);
      const added = await h.request('POST', '/v1/auth/evidence', {
        headers: bearer(token),
        body: { otp: oathTotp(secret, Date.now() + 30_000) },
      });
      assert.equal(added.status, 200, added.text);
      assert.equal(added.body.complete, true);
    });

    it('does not unlock a locked-out account; a token older than the last password change is void', async () => {
      const email = 'lee@example.org';
      const { principalId } = await registered(email);
      await h.request('POST', '/v1/auth/reset/request', { body: { identity: email } });
      const stale = await mailFor(outbox, email, 'reset-password');
      const token = await session(h, email, PASSWORD);
      const changed = await h.request('POST', '/v1/auth/password', {
        headers: bearer(token),
        body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      });
      assert.equal(changed.status, 200, changed.text);
      const voided = await h.request('POST', '/v1/auth/reset/complete', {
        body: { token: stale.token, password: 'yet another passphrase 2' },
      });
      assert.equal(voided.status, 400, voided.text);
      for (let i = 0; i < 3; i++) await login(h, email, 'wrong wrong wrong');
      const lock = await h.request('GET', `/v1/principals/${principalId}/lockout`, {
        headers: operator,
      });
      assert.notEqual(lock.body.lockedUntil, null, lock.text);
      await h.request('POST', '/v1/auth/reset/request', { body: { identity: email } });
      const mail = await mailFor(outbox, email, 'reset-password', 2);
      const done = await h.request('POST', '/v1/auth/reset/complete', {
        body: { token: mail.token, password: 'yet another passphrase 3' },
      });
      assert.equal(done.status, 200, done.text);
      assert.equal(
        (await login(h, email, 'yet another passphrase 3')).status,
        401,
        'still locked out',
      );
    });

    it('refuses bad input with problem+json and changes nothing', async () => {
      const email = 'max@example.org';
      await registered(email);
      await h.request('POST', '/v1/auth/reset/request', { body: { identity: email } });
      const mail = await mailFor(outbox, email, 'reset-password');
      const before = ctx.node.digest();
      const cases: unknown[] = [
        { token: mail.token, password: 'password' },
        { token: mail.token, password: 'short' },
        { token: mail.token },
        { token: `alr_${'B'.repeat(43)}`, password: NEW_PASSWORD },
        { token: String(mail.token).replace('alr_', 'alv_'), password: NEW_PASSWORD },
        { token: mail.token, password: NEW_PASSWORD, extra: 1 },
      ];
      for (const body of cases) {
        const r = await h.request('POST', '/v1/auth/reset/complete', { body });
        assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
        assert.match(String(problem(r).code), /^(VALIDATION_FAILED|TOKEN_INVALID)$/);
      }
      const empty = await h.request('POST', '/v1/auth/reset/request', { body: {} });
      assert.equal(empty.status, 400);
      assert.equal(ctx.node.digest(), before);
      // The token still works after all that.
      const done = await h.request('POST', '/v1/auth/reset/complete', {
        body: { token: mail.token, password: NEW_PASSWORD },
      });
      assert.equal(done.status, 200, done.text);
    });
  });
});

describe('self-service settings', () => {
  it('registration is closed by default', async () => {
    const ctx = await listenApp('closed');
    try {
      const r = await http(ctx.port).request('POST', '/v1/auth/register', {
        body: { email: 'nia@example.org', briefName: 'nia', password: PASSWORD },
      });
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.code, 'REGISTRATION_CLOSED');
    } finally {
      await ctx.close();
    }
  });

  it('puts self-service passwords where a login through a tied internal directory looks', async () => {
    const outbox = mkdtempSync(join(tmpdir(), 'authlog-outbox-'));
    const ctx = await listenApp('tied', { auth: { registration: 'open', outboxDir: outbox } });
    try {
      const h = http(ctx.port);
      const admin = operatorCall(h);
      const body = {
        directoryId: 'corp-pw',
        name: 'corp-pw',
        kind: 'password',
        evidences: ['knowledge'],
      };
      await admin('POST', '/v1/credential-directories', body, 201);
      await admin(
        'PATCH',
        '/v1/identity-directories/internal',
        { credentialDirectoryIds: ['corp-pw'] },
        200,
      );
      const email = 'pia@example.org';
      const registered = await h.request('POST', '/v1/auth/register', {
        body: { email, briefName: 'pia', password: PASSWORD },
      });
      assert.equal(registered.status, 202, registered.text);
      await mailFor(outbox, email, 'verify-email'); // the registration is done once it is mailed
      assert.equal((await login(h, email, PASSWORD)).status, 200, 'registered into corp-pw');
      await h.request('POST', '/v1/auth/reset/request', { body: { identity: email } });
      const reset = await mailFor(outbox, email, 'reset-password');
      const done = await h.request('POST', '/v1/auth/reset/complete', {
        body: { token: reset.token, password: NEW_PASSWORD },
      });
      assert.equal(done.status, 200, done.text);
      const ok = await login(h, email, NEW_PASSWORD);
      assert.equal(ok.status, 200, 'the reset replaced the password a login counts');
      const listed = await h.request('GET', `/v1/principals/${ok.body.principalId}/credentials`, {
        headers: operator,
      });
      const passwords = (listed.body.items as { kind: string; directoryId: string }[]).filter(
        (c) => c.kind === 'password',
      );
      assert.deepEqual(
        passwords.map((c) => c.directoryId),
        ['corp-pw'],
      );
    } finally {
      await ctx.close();
      rmSync(outbox, { recursive: true, force: true });
    }
  });

  it('refuses expired verification and reset tokens (short configured lifetimes)', async () => {
    const outbox = mkdtempSync(join(tmpdir(), 'authlog-outbox-'));
    const ctx = await listenApp('short', {
      auth: { registration: 'open', outboxDir: outbox, verifyTokenS: 1, resetTokenS: 1 },
    });
    try {
      const h = http(ctx.port);
      const email = 'olga@example.org';
      await h.request('POST', '/v1/auth/register', {
        body: { email, briefName: 'olga', password: PASSWORD },
      });
      const verify = await mailFor(outbox, email, 'verify-email');
      await h.request('POST', '/v1/auth/reset/request', { body: { identity: email } });
      const reset = await mailFor(outbox, email, 'reset-password');
      await new Promise((r) => setTimeout(r, 1_100));
      const v = await h.request('POST', '/v1/auth/verify-email', { body: { token: verify.token } });
      assert.equal(v.status, 400, v.text);
      assert.equal(v.body.code, 'TOKEN_INVALID');
      const c = await h.request('POST', '/v1/auth/reset/complete', {
        body: { token: reset.token, password: NEW_PASSWORD },
      });
      assert.equal(c.status, 400, c.text);
      assert.equal(c.body.code, 'TOKEN_INVALID');
      assert.equal((await login(h, email, PASSWORD)).status, 200, 'the password is unchanged');
    } finally {
      await ctx.close();
      rmSync(outbox, { recursive: true, force: true });
    }
  });
});
