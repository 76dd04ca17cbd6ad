// Threat: privilege escalation and account takeover by administrators of one thing (issue 14,
// rows 1–3 of the adversarial review). A holder of `authlog.roles.manage` must not reach
// `authlog.admin` through the role graph (a new parent, an `inherit` that lifts a revoke), nor
// strip an administrator of its role; a holder of `authlog.principals.manage` must not take over
// a principal that holds more than it does (its email, password, identities, tokens, policy, the
// directory it logs in through), and nobody does any of it from an unelevated session. One rule
// (src/authz/conferral.ts): the actor holds every grant the change confers on anyone affected.
// OWASP ASVS 5.0 V8.2 (function-level access control), V6.3.4 / V7.5.1 (re-authentication before
// sensitive changes), V6.3.7 (notify on changes to authentication details).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import { listenApp } from '../support/app.ts';
import { bearer, createUser, type Http, http, operatorCall } from '../support/auth.ts';

const PASSWORD = 'a long enough passphrase 1';

describe('no escalation or takeover by a partial administrator', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  let op: ReturnType<typeof operatorCall>;
  const outbox = mkdtempSync(join(tmpdir(), 'authlog-escalation-'));
  const ids: Record<string, string> = {};

  /** A bearer session of `name`, elevated unless told otherwise. */
  const session = async (name: string, elevated = true): Promise<Record<string, string>> => {
    const r = await h.request('POST', '/v1/auth/login', {
      body: { identity: name, password: PASSWORD, transport: 'bearer' },
    });
    assert.equal(r.status, 200, r.text);
    if (!elevated) return bearer(String(r.body.token));
    const up = await h.request('POST', '/v1/auth/elevate', {
      headers: bearer(String(r.body.token)),
      body: { password: PASSWORD },
    });
    assert.equal(up.status, 200, up.text);
    return bearer(String(up.body.token));
  };
  const call = (headers: Record<string, string>, method: string, path: string, body?: unknown) =>
    h.request(method, path, { headers, ...(body === undefined ? {} : { body }) });
  const refused = async (
    r: Promise<{ status: number; body: Record<string, unknown>; text: string }>,
    code: string,
  ) => {
    const answer = await r;
    assert.equal(answer.status, 403, answer.text);
    assert.equal(answer.body.code, code, answer.text);
  };
  const allows = async (principal: string, privilege: string) => {
    const r = await op('POST', '/v1/authz/check', { principalId: principal, privilege });
    return r.allow === true;
  };

  before(async () => {
    ctx = await listenApp('escalation', { auth: { outboxDir: outbox, elevationS: 600 } });
    h = http(ctx.port);
    op = operatorCall(h);
    for (const name of ['root', 'rm', 'pm', 'alice', 'bob'])
      ids[name] = await createUser(h, name, PASSWORD);
    await op('PATCH', `/v1/principals/${ids.alice}`, { email: 'alice@example.org' });
    await op('PATCH', `/v1/principals/${ids.root}`, { email: 'root@example.org' });
    await op('POST', `/v1/roles/${ADMINISTRATORS_ROLE}/members`, { principalId: ids.root });
    // rm administers roles, pm principals; neither holds anything else.
    await op('POST', '/v1/roles', { roleId: 'rm2', name: 'role-managers' }, 201);
    await op('PUT', '/v1/roles/rm2/grants', { privilege: 'authlog.roles.manage', effect: 'grant' });
    await op('POST', '/v1/roles/rm2/members', { principalId: ids.rm });
    await op('POST', '/v1/roles', { roleId: 'pm', name: 'principal-managers' }, 201);
    await op('PUT', '/v1/roles/pm/grants', {
      privilege: 'authlog.principals.manage',
      effect: 'grant',
    });
    await op('POST', '/v1/roles/pm/members', { principalId: ids.pm });
    // staff may read the audit trail; juniors inherit from staff but have that revoked.
    await op('POST', '/v1/roles', { roleId: 'staff', name: 'staff' }, 201);
    await op('PUT', '/v1/roles/staff/grants', { privilege: 'authlog.audit.read', effect: 'grant' });
    await op('POST', '/v1/roles', { roleId: 'juniors', name: 'juniors', parentId: 'staff' }, 201);
    await op('PUT', '/v1/roles/juniors/grants', {
      privilege: 'authlog.audit.read',
      effect: 'revoke',
    });
    await op('POST', '/v1/roles/juniors/members', { principalId: ids.rm });
    await op(
      'POST',
      '/v1/roles',
      { roleId: 'mid', name: 'mid', parentId: ADMINISTRATORS_ROLE },
      201,
    );
  });
  after(() => ctx.close());

  it('row 1: a role manager cannot give its own role a more powerful parent', async () => {
    const rm = await session('rm');
    await refused(
      call(rm, 'PATCH', '/v1/roles/rm2', { parentId: ADMINISTRATORS_ROLE }),
      'FORBIDDEN',
    );
    // Nor through a role that merely descends from administrators.
    await refused(call(rm, 'PATCH', '/v1/roles/rm2', { parentId: 'mid' }), 'FORBIDDEN');
    assert.equal(await allows(ids.rm!, 'authlog.admin'), false);
    // A role under its own: confers nothing it lacks, so it is allowed.
    const made = await call(rm, 'POST', '/v1/roles', { name: 'helpers' });
    const helpers = String(made.body.roleId);
    assert.equal(made.status, 201, made.text);
    const moved = await call(rm, 'PATCH', `/v1/roles/${helpers}`, { parentId: 'rm2' });
    assert.equal(moved.status, 200, moved.text);
    // Unelevated, not even that.
    const plain = await session('rm', false);
    await refused(
      call(plain, 'PATCH', `/v1/roles/${helpers}`, { parentId: null }),
      'ELEVATION_REQUIRED',
    );
  });

  it('inherit widens too: lifting a revoke over an inherited grant needs that grant', async () => {
    const rm = await session('rm');
    await refused(
      call(rm, 'PUT', '/v1/roles/juniors/grants', {
        privilege: 'authlog.audit.read',
        effect: 'inherit',
      }),
      'FORBIDDEN',
    );
    assert.equal(await allows(ids.rm!, 'authlog.audit.read'), false);
  });

  it('nobody takes away what they could not hand out', async () => {
    const rm = await session('rm');
    await refused(
      call(rm, 'DELETE', `/v1/roles/${ADMINISTRATORS_ROLE}/members/${ids.root}`),
      'FORBIDDEN',
    );
    await refused(call(rm, 'DELETE', '/v1/roles/staff'), 'FORBIDDEN');
    await refused(
      call(rm, 'PUT', '/v1/roles/staff/grants', {
        privilege: 'authlog.audit.read',
        effect: 'revoke',
      }),
      'FORBIDDEN',
    );
    assert.equal(await allows(ids.root!, 'authlog.admin'), true);
  });

  it('row 2: an unelevated token cannot change where resets go', async () => {
    const plain = await session('pm', false);
    await refused(
      call(plain, 'PATCH', `/v1/principals/${ids.alice}`, { email: 'attacker@example.net' }),
      'ELEVATION_REQUIRED',
    );
    await refused(
      call(plain, 'PATCH', `/v1/principals/${ids.alice}`, { phone: '+41446681800' }),
      'ELEVATION_REQUIRED',
    );
    const p = await op('GET', `/v1/principals/${ids.alice}`);
    assert.equal(p.email, 'alice@example.org');
    // A display name is no way in: the manage privilege is enough.
    const renamed = await call(plain, 'PATCH', `/v1/principals/${ids.alice}`, {
      fullName: 'Alice A.',
    });
    assert.equal(renamed.status, 200, renamed.text);
  });

  it('an elevated change of email notifies the old address', async () => {
    const pm = await session('pm');
    const r = await call(pm, 'PATCH', `/v1/principals/${ids.alice}`, {
      email: 'alice@example.com',
    });
    assert.equal(r.status, 200, r.text);
    const notices = readdirSync(outbox)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(outbox, f), 'utf8')) as Record<string, string>)
      .filter((m) => m.purpose === 'email-changed');
    assert.equal(notices.length, 1);
    assert.equal(notices[0]?.to, 'alice@example.org');
    assert.doesNotMatch(
      String(notices[0]?.text),
      /alice@example\.com/,
      'the new address is not told',
    );
  });

  it('a principal manager cannot take over a principal that holds more', async () => {
    const pm = await session('pm');
    const root = ids.root!;
    const attempts: [string, string, unknown][] = [
      ['PATCH', `/v1/principals/${root}`, { email: 'attacker@example.net' }],
      ['PUT', `/v1/principals/${root}/password`, { password: 'attacker chose this one' }],
      ['POST', `/v1/principals/${root}/identities`, { name: 'root-alias' }],
      ['POST', `/v1/principals/${root}/tokens`, { name: 'stolen' }],
      ['POST', `/v1/principals/${root}/deactivate`, {}],
      ['DELETE', `/v1/principals/${root}`, undefined],
      ['PUT', `/v1/auth/policies/principal/${root}`, { require: ['location'] }],
      ['PUT', `/v1/auth/policies/role/${ADMINISTRATORS_ROLE}`, { require: [] }],
      ['POST', `/v1/principals/${root}/sessions/end`, {}],
      ['POST', `/v1/principals/${root}/subnets`, { name: 'mine', cidrs: ['10.0.0.0/8'] }],
    ];
    for (const [method, path, body] of attempts)
      await refused(call(pm, method, path, body), 'FORBIDDEN');
    const p = await op('GET', `/v1/principals/${root}`);
    assert.equal(p.email, 'root@example.org');
    assert.equal(p.active, true);
    // The same on a principal that holds nothing more than pm: allowed.
    const r = await call(pm, 'PUT', `/v1/principals/${ids.bob}/password`, {
      password: 'bob gets a new passphrase',
    });
    assert.equal(r.status, 200, r.text);
  });

  it('row 3: the credentials a directory admits are changed elevated, by someone who holds all its principals hold', async () => {
    const plain = await session('pm', false);
    await refused(
      call(plain, 'PATCH', '/v1/identity-directories/internal', {
        credentialDirectoryIds: ['subnet'],
      }),
      'ELEVATION_REQUIRED',
    );
    const pm = await session('pm');
    await refused(
      call(pm, 'PATCH', '/v1/identity-directories/internal', {
        credentialDirectoryIds: ['subnet'],
      }),
      'FORBIDDEN',
    );
    await refused(
      call(pm, 'PATCH', '/v1/credential-directories/subnet', {
        evidences: ['knowledge', 'location'],
      }),
      'FORBIDDEN',
    );
    // root still logs in with its password.
    await session('root');
    // A directory of lesser principals: pm may tie it.
    await op(
      'POST',
      '/v1/identity-directories',
      { directoryId: 'partners', name: 'partners' },
      201,
    );
    await op(
      'POST',
      `/v1/principals/${ids.bob}/identities`,
      {
        name: 'bob',
        directoryId: 'partners',
      },
      201,
    );
    const tied = await call(pm, 'PATCH', '/v1/identity-directories/partners', {
      credentialDirectoryIds: ['password'],
    });
    assert.equal(tied.status, 200, tied.text);
  });

  // A chosen id may name a principal or role created at the same time at another site; the two
  // creations merge (createOrMerge), and the merged one holds what the other was given there: an
  // administrator made of the principal pm registered with its own email and password, or
  // authlog.admin granted to the role rm created with itself as member.
  it('only administrators choose ids that another site may be creating too', async () => {
    const pm = await session('pm');
    const rm = await session('rm');
    await refused(
      call(pm, 'POST', '/v1/principals', { principalId: 'alice-twin', briefName: 'twin' }),
      'FORBIDDEN',
    );
    await refused(call(rm, 'POST', '/v1/roles', { roleId: 'ops', name: 'ops' }), 'FORBIDDEN');
    await refused(
      call(rm, 'POST', '/v1/role-directories', { directoryId: 'gated', name: 'gated' }),
      'FORBIDDEN',
    );
    await refused(
      call(pm, 'POST', '/v1/identity-directories', { directoryId: 'ext', name: 'ext' }),
      'FORBIDDEN',
    );
    const generated = await call(pm, 'POST', '/v1/principals', { briefName: 'twin' });
    assert.equal(generated.status, 201, generated.text);
    assert.match(String(generated.body.principalId), /^[0-9A-HJKMNP-TV-Z]{26}$/);
    const root = await session('root');
    const chosen = await call(root, 'POST', '/v1/roles', { roleId: 'ops', name: 'ops' });
    assert.equal(chosen.status, 201, chosen.text);
  });

  it('row 5: a principal with no role reads itself and nothing else', async () => {
    const alice = await session('alice', false);
    const list = await call(alice, 'GET', '/v1/principals');
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      (list.body.items as { id: string }[]).map((p) => p.id),
      [ids.alice],
    );
    const own = await call(alice, 'GET', `/v1/principals/${ids.alice}`);
    assert.equal(own.status, 200, own.text);
    for (const path of [
      `/v1/principals/${ids.root}`,
      `/v1/principals/no-such-one`,
      `/v1/principals/${ids.root}/credentials`,
      `/v1/principals/${ids.root}/sessions`,
      `/v1/principals/${ids.root}/lockout`,
      '/v1/roles',
      `/v1/roles/${ADMINISTRATORS_ROLE}`,
      '/v1/auth/policies',
      '/v1/identity-directories',
      '/v1/credential-directories',
      '/v1/conflicts',
      `/v1/authz/objects?principalId=${ids.root}&resourceType=doc&action=select`,
    ])
      await refused(call(alice, 'GET', path), 'FORBIDDEN');
    await refused(
      call(alice, 'POST', '/v1/authz/check', { principalId: ids.root, privilege: 'authlog.admin' }),
      'FORBIDDEN',
    );
    const self = await call(alice, 'POST', '/v1/authz/check', {
      principalId: ids.alice,
      privilege: 'authlog.admin',
    });
    assert.equal(self.status, 200, self.text);
    assert.equal(self.body.allow, false);
  });

  it('the audit trail names every grant an allowed change conferred', async () => {
    const rm = await session('rm');
    await op('POST', '/v1/roles', { roleId: 'team', name: 'team' }, 201);
    const r = await call(rm, 'PATCH', '/v1/roles/team', { parentId: 'rm2' });
    assert.equal(r.status, 200, r.text);
    const audit = await op('GET', `/v1/audit?type=RoleChanged&actor=${ids.rm}&limit=10`);
    const rows = audit.items as { allowedBy: string | null }[];
    const last = rows.at(-1);
    assert.ok(last, JSON.stringify(audit));
    assert.match(String(last.allowedBy), /authlog\.roles\.manage/);
  });
});
