// External role directories, offline logins and convergence of just-in-time provisioning
// (issue 17 items 2-4), against a real slapd (test/support/slapd.ts).
// - Groups are roles: nested groups count (bob is in `staff` through `admins`), read at login and
//   recorded as ExternalRolesObserved, so every site answers a check alike once it has the event;
//   an administrator cannot add members by hand (the directory is the source of truth).
// - Offline logins are opt-in and bounded, used only while no server answers, and said so in the
//   session's evidence (`ldap-offline`), like SSSD's cached credentials.
// - Two sites cut off from each other provision the same person: one principal, equal digests.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change, Client } from 'ldapts';
import { ARGON2_FLOOR } from '../../src/authn/passwords.ts';
import { derivedId } from '../../src/authn/provision.ts';
import { startRoleRefresh } from '../../src/directories/refresh.ts';
import { DirectoryService } from '../../src/directories/service.ts';
import type { App } from '../../src/http/types.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { auth, startApp } from '../support/app.ts';
import { pull } from '../support/in-process.ts';
import { testTrust } from '../support/keys.ts';
import { type Slapd, slapdMissing, startSlapd } from '../support/slapd.ts';

const skip = slapdMissing();
if (skip) console.log(`# skipped: ${skip}`);

type Site = { app: App; node: AuthlogNode; service: DirectoryService; close(): Promise<void> };

describe('external role directories, offline logins, convergence (real slapd)', { skip }, () => {
  let slapd: Slapd;
  const sites: Site[] = [];

  const site = async (id: string): Promise<Site> => {
    const service = new DirectoryService({
      env: (name) =>
        name === 'AUTHLOG_LDAP_CORP_BIND_PASSWORD' ? slapd.servicePassword : undefined,
      offlineCachePath: ':memory:',
      argon2: ARGON2_FLOOR,
    });
    const started = await startApp(id, { directories: service, trust: testTrust(id) });
    const s = { ...started, service };
    sites.push(s);
    return s;
  };
  const post = (s: Site, url: string, payload: object, headers: Record<string, string> = auth) =>
    s.app.inject({ method: 'POST', url: `/v1${url}`, headers, payload });
  const login = (s: Site, identity: string, password: string) =>
    post(s, '/auth/login', { identity, password, transport: 'bearer' }, {});

  before(async () => {
    slapd = await startSlapd();
  });
  after(async () => {
    for (const s of sites) {
      await s.close();
      await s.service.close();
    }
    await slapd?.close();
  });

  const configure = async (s: Site, offlineCacheSeconds = 0) => {
    const ldap = {
      flavor: 'openldap',
      urls: [slapd.ldapsUrl],
      caPem: slapd.caPem,
      bindDn: slapd.serviceDn,
      baseDn: slapd.peopleDn,
      connectTimeoutMs: 500,
      timeoutMs: 2000,
      identityDirectoryId: 'internal',
      offlineCacheSeconds,
    };
    const dir = await post(s, '/credential-directories', {
      directoryId: 'corp',
      name: 'corp',
      kind: 'ldap',
      evidences: ['knowledge'],
      ldap,
    });
    assert.equal(dir.statusCode, 201, dir.body);
  };

  it('maps groups to roles, nested ones included, and refuses hand-made members', async () => {
    const a = await site('roles');
    await configure(a);
    const external = {
      credentialDirectoryId: 'corp',
      groupBaseDn: slapd.groupsDn,
      groupFilter: '(objectClass=groupOfNames)',
      memberAttribute: 'member',
      nameAttribute: 'cn',
      nested: 'recursive',
      refreshSeconds: 300,
    };
    const rd = await post(a, '/role-directories', {
      directoryId: 'corp-groups',
      name: 'corp-groups',
      external,
    });
    assert.equal(rd.statusCode, 201, rd.body);
    assert.equal((await post(a, '/privileges', { privilege: 'wiki.edit' })).statusCode, 200);
    const role = await post(a, '/roles', {
      roleId: 'staff',
      name: 'staff',
      directoryId: 'corp-groups',
    });
    assert.equal(role.statusCode, 201, role.body);
    const grant = await a.app.inject({
      method: 'PUT',
      url: '/v1/roles/staff/grants',
      headers: auth,
      payload: { privilege: 'wiki.edit', effect: 'grant' },
    });
    assert.equal(grant.statusCode, 200, grant.body);

    const check = async (principalId: string) =>
      (await post(a, '/authz/check', { principalId, privilege: 'wiki.edit' })).json().allow;
    const bob = await login(a, 'bob', 'bob-ldap-pw'); // staff through admins
    const carol = await login(a, 'carol', 'carol-ldap-pw'); // auditors only
    assert.equal(bob.statusCode, 200, bob.body);
    assert.equal(await check(bob.json().principalId), true, 'nested group counts');
    assert.equal(await check(carol.json().principalId), false);

    // Threat: an administrator of roles adds members the directory does not list.
    const hand = await post(a, '/roles/staff/members', { principalId: carol.json().principalId });
    assert.equal(hand.statusCode, 409);
    assert.equal(hand.json().code, 'EXTERNAL_ROLE_DIRECTORY');

    // Threat: a principal keeps a role after the directory took the group away.
    const client = new Client({ url: slapd.url });
    await client.bind(slapd.rootDn, slapd.rootPassword);
    await client.modify(slapd.groupDn('staff'), [
      new Change({
        operation: 'delete',
        modification: new Attribute({ type: 'member', values: [slapd.groupDn('admins')] }),
      }),
    ]);
    await client.unbind();
    // Read again on the refresh schedule while bob's session lives, without a new login.
    const refresh = startRoleRefresh(a.node, a.service);
    try {
      assert.equal(await refresh.tick(Date.now()), 0, 'within refreshSeconds: not read again');
      assert.equal(await check(bob.json().principalId), true);
      assert.equal(await refresh.tick(Date.now() + 301_000), 1, 'bob’s groups changed');
      assert.equal(await check(bob.json().principalId), false, 'the group is gone at every site');
    } finally {
      refresh.stop();
    }
  });

  it('logs in offline with the node’s verifier only while the directory is unreachable, and says so', async () => {
    const b = await site('offline');
    await configure(b, 3600);
    const online = await login(b, 'alice', 'alice-ldap-pw');
    assert.equal(online.statusCode, 200, online.body);
    await b.service.settled();
    await slapd.stop();
    try {
      const offline = await login(b, 'alice', 'alice-ldap-pw');
      assert.equal(offline.statusCode, 200, offline.body);
      assert.deepEqual(
        offline.json().evidences.map((e: { method: string }) => e.method),
        ['ldap-offline'],
      );
      // Threat: the cached verifier as a way around the directory's password check.
      const wrong = await login(b, 'alice', 'guess');
      assert.equal(wrong.statusCode, 401);
      // Never a verifier for someone who has not logged in here: that login waits for the directory.
      assert.equal((await login(b, 'carol', 'carol-ldap-pw')).statusCode, 503);
    } finally {
      await slapd.start();
    }
    const back = await login(b, 'alice', 'alice-ldap-pw');
    assert.deepEqual(
      back.json().evidences.map((e: { method: string }) => e.method),
      ['ldap'],
      'online again: the directory decides',
    );
  });

  // Threat: two sites, cut off, each create a principal for the same person (duplicate accounts,
  // split roles and audit trails).
  it('converges: two sites provisioning the same person while cut off end with one principal', async () => {
    const x = await site('site-x');
    const y = await site('site-y');
    await configure(x);
    await pull(x.node, y.node);
    const atX = await login(x, 'carol', 'carol-ldap-pw');
    const atY = await login(y, 'carol', 'carol-ldap-pw');
    assert.equal(atX.statusCode, 200, atX.body);
    assert.equal(atY.statusCode, 200, atY.body);
    const expected = derivedId('principal', 'corp', await slapd.entryUUID('carol'));
    assert.equal(atX.json().principalId, expected);
    assert.equal(atY.json().principalId, expected);
    await pull(x.node, y.node);
    await pull(y.node, x.node);
    assert.equal(x.node.digest(), y.node.digest());
    for (const s of [x, y]) {
      const res = await s.app.inject({
        method: 'GET',
        url: `/v1/principals/${expected}`,
        headers: auth,
      });
      assert.equal(res.statusCode, 200, res.body);
      const conflicts = await s.app.inject({ method: 'GET', url: '/v1/conflicts', headers: auth });
      assert.ok(!conflicts.body.includes(expected), 'not listed as a collision');
    }
    // Either site logs carol in as the one principal afterwards.
    assert.equal((await login(y, 'carol', 'carol-ldap-pw')).json().principalId, expected);
  });
});
