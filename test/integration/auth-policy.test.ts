// Policies and password upkeep: a policy that requires more evidence than the login proved leaves
// the session incomplete, good only for adding evidence, reading itself and logging out (MFA by
// policy, DESIGN.md section 7); a role's policy applies to its members. A hash made with older
// argon2 parameters, or written in a non-standard PHC form, is replaced at the next successful
// login (a `PasswordSet` rehash event).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { passwordCredential, setPassword } from '../../src/authn/credentials.ts';
import { ARGON2_FLOOR, checkNewPassword, hashPassword } from '../../src/authn/passwords.ts';
import { listenApp } from '../support/app.ts';
import { oldOrder } from '../support/argon2-oracle.ts';
import { bearer, createUser, type Http, http, operator } from '../support/auth.ts';

const PASSWORD = 'policies are for everyone';

describe('authentication policies', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  before(async () => {
    ctx = await listenApp('policy', {
      auth: { argon2: { ...ARGON2_FLOOR, timeCost: ARGON2_FLOOR.timeCost + 1 } },
    });
    h = http(ctx.port);
  });
  after(() => ctx.close());

  const login = (identity: string) =>
    h.request('POST', '/v1/auth/login', {
      body: { identity, password: PASSWORD, transport: 'bearer' },
    });

  it('MFA required by policy: a password-only session can do nothing but add evidence', async () => {
    const id = await createUser(h, 'mia', PASSWORD);
    const set = await h.request('PUT', `/v1/auth/policies/principal/${id}`, {
      headers: operator,
      body: { require: ['knowledge', 'ownership'] },
    });
    assert.equal(set.status, 200, set.text);
    const r = await login('mia');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.complete, false);
    assert.deepEqual(r.body.missing, ['ownership']);
    const headers = bearer(String(r.body.token));
    const blocked = await h.request('GET', `/v1/principals/${id}`, { headers });
    assert.equal(blocked.status, 403, blocked.text);
    assert.equal(blocked.body.code, 'EVIDENCE_REQUIRED');
    const elevate = await h.request('POST', '/v1/auth/elevate', {
      headers,
      body: { password: PASSWORD },
    });
    assert.equal(elevate.body.code, 'EVIDENCE_REQUIRED', 'no elevation on an incomplete session');
    const me = await h.request('GET', '/v1/auth/session', { headers });
    assert.equal(me.status, 200, me.text);
    const more = await h.request('POST', '/v1/auth/evidence', {
      headers,
      body: { password: PASSWORD },
    });
    assert.equal(more.status, 200, more.text);
    assert.equal(more.body.complete, false, 'a second password is not a second factor');
    const out = await h.request('POST', '/v1/auth/logout', {
      headers: bearer(String(more.body.token)),
    });
    assert.equal(out.status, 200, out.text);
  });

  it("a role's policy applies to its members", async () => {
    const id = await createUser(h, 'rolf', PASSWORD);
    const role = await h.request('POST', '/v1/roles', {
      headers: operator,
      body: { name: 'field-ops' },
    });
    assert.equal(role.status, 201, role.text);
    const roleId = String(role.body.roleId);
    await h.request('POST', `/v1/roles/${roleId}/members`, {
      headers: operator,
      body: { principalId: id },
    });
    const set = await h.request('PUT', `/v1/auth/policies/role/${roleId}`, {
      headers: operator,
      body: { require: ['knowledge', 'location'] },
    });
    assert.equal(set.status, 200, set.text);
    const r = await login('rolf');
    assert.deepEqual(r.body.missing, ['location']);
    const list = await h.request('GET', '/v1/auth/policies', { headers: operator });
    assert.ok((list.body.items as { subjectId: string }[]).some((p) => p.subjectId === roleId));
  });

  it('the check API by session counts gated roles only while the session holds the evidence', async () => {
    const id = await createUser(h, 'gus', PASSWORD);
    const post = async (path: string, body: unknown, status = 200) => {
      const r = await h.request('POST', path, { headers: operator, body });
      assert.equal(r.status, status, `${path}: ${r.text}`);
      return r.body;
    };
    await post('/v1/privileges', { privilege: 'reports.view' });
    await post('/v1/privileges', { privilege: 'reports.sign' });
    const dir = await post(
      '/v1/role-directories',
      { name: 'strong', requiredEvidences: ['ownership'] },
      201,
    );
    const gated = await post('/v1/roles', { name: 'signers', directoryId: dir.directoryId }, 201);
    const plain = await post('/v1/roles', { name: 'readers' }, 201);
    for (const [role, privilege] of [
      [gated.roleId, 'reports.sign'],
      [plain.roleId, 'reports.view'],
    ]) {
      const g = await h.request('PUT', `/v1/roles/${role}/grants`, {
        headers: operator,
        body: { privilege, effect: 'grant' },
      });
      assert.equal(g.status, 200, g.text);
      await post(`/v1/roles/${role}/members`, { principalId: id });
    }
    const r = await login('gus');
    const sessionId = String(r.body.sessionId);
    const check = (body: Record<string, string>) =>
      h.request('POST', '/v1/authz/check', { headers: operator, body });
    const view = await check({ sessionId, privilege: 'reports.view' });
    assert.equal(view.body.allow, true, view.text);
    const sign = await check({ sessionId, privilege: 'reports.sign' });
    assert.equal(sign.body.allow, false, sign.text);
    assert.deepEqual(sign.body.missingEvidences, ['ownership']);
    const both = await check({ sessionId, principalId: id, privilege: 'reports.view' });
    assert.equal(both.status, 400);
    await h.request('POST', '/v1/auth/logout', { headers: bearer(String(r.body.token)) });
    const ended = await check({ sessionId, privilege: 'reports.view' });
    assert.equal(ended.status, 404, 'an ended session is no subject');
  });

  it('rehashes a password whose hash has older parameters at the next login', async () => {
    const id = await createUser(h, 'reuben', undefined);
    const old = await hashPassword(checkNewPassword(PASSWORD), ARGON2_FLOOR);
    await ctx.node.execute(setPassword({ credentialId: `pw-${id}`, principalId: id, hash: old }), {
      actor: 'system',
    });
    assert.equal((await login('reuben')).status, 200);
    const sets = (await ctx.node.store.readAll({ streamPrefix: 'origin-' }))
      .filter(
        (e) => e.type === 'PasswordSet' && (e.data as { principalId: string }).principalId === id,
      )
      .map((e) => e.data as { hash: string; rehash: boolean });
    assert.equal(sets.length, 2);
    assert.equal(sets[1]!.rehash, true);
    assert.match(sets[1]!.hash, new RegExp(`t=${ARGON2_FLOOR.timeCost + 1}`));
    assert.equal((await login('reuben')).status, 200, 'the new hash verifies');
    const again = (await ctx.node.store.readAll({ streamPrefix: 'origin-' })).filter(
      (e) => e.type === 'PasswordSet' && (e.data as { principalId: string }).principalId === id,
    );
    assert.equal(again.length, 2, 'no second rehash');
  });

  // Threat: hashes an older authlog wrote in argon2 0.45.1's non-standard m,p,t order stay
  // unreadable by other implementations forever (issue 14, row 11) unless they are rewritten.
  it('rewrites a hash in the old m,p,t order as a standard PHC string at the next login', async () => {
    const id = await createUser(h, 'olga', undefined);
    const current = { ...ARGON2_FLOOR, timeCost: ARGON2_FLOOR.timeCost + 1 };
    // Current parameters, old serialisation: only the order of m, t and p differs.
    const old = oldOrder(await hashPassword(checkNewPassword(PASSWORD), current));
    assert.match(old, /\$m=19456,p=1,t=3\$/);
    await ctx.node.execute(setPassword({ credentialId: `pw-${id}`, principalId: id, hash: old }), {
      actor: 'system',
    });
    assert.equal((await login('olga')).status, 200, 'the old-order hash verifies');
    const sets = (await ctx.node.store.readAll({ streamPrefix: 'origin-' }))
      .filter(
        (e) => e.type === 'PasswordSet' && (e.data as { principalId: string }).principalId === id,
      )
      .map((e) => e.data as { hash: string; rehash: boolean });
    assert.equal(sets.length, 2, 'a rehash event');
    assert.equal(sets[1]!.rehash, true);
    assert.match(
      sets[1]!.hash,
      /^\$argon2id\$v=19\$m=19456,t=3,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/,
    );
    assert.equal(passwordCredential(ctx.node.read, id)?.hash, sets[1]!.hash, 'read model holds it');
    assert.equal((await login('olga')).status, 200, 'the rewritten hash verifies');
  });

  it('refuses weak new passwords: too short, too long, common, control characters', async () => {
    const id = await createUser(h, 'wendy', undefined);
    for (const password of ['short', 'x'.repeat(1025), 'password1', 'Qwerty123', 'tab\there ok']) {
      const r = await h.request('PUT', `/v1/principals/${id}/password`, {
        headers: operator,
        body: { password },
      });
      assert.equal(r.status, 400, `${JSON.stringify(password).slice(0, 30)}: ${r.text}`);
    }
    // Code points, not UTF-16 units: 8 emoji are 8 characters.
    const ok = await h.request('PUT', `/v1/principals/${id}/password`, {
      headers: operator,
      body: { password: '🦄🐉🦊🐙🦉🐢🦋🐝' },
    });
    assert.equal(ok.status, 200, ok.text);
  });
});
