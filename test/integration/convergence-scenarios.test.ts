// Each convergence rule of DESIGN.md section 5, shown on two sites that write concurrently
// (no exchange between the writes) and then exchange everything.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { getRole } from '../../projections/authz.ts';
import { identitiesOf } from '../../projections/identities.ts';
import { inertEvents } from '../../projections/inert.ts';
import { getPrincipal } from '../../projections/principals.ts';
import { defineCredentialDirectory } from '../../src/authn/credentials.ts';
import {
  activatePrincipal,
  addIdentity,
  changeProfile,
  deactivatePrincipal,
  defineIdentityDirectory,
  deletePrincipal,
  registerPrincipal,
} from '../../src/authn/principals.ts';
import {
  addRoleMember,
  createRole,
  definePrivilege,
  defineResourceType,
  defineRoleDirectory,
  deleteRole,
  MANAGE_ROLES,
  setGrant,
  updateRole,
} from '../../src/authz/commands.ts';
import type { Command } from '../../src/node/command.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { listConflicts } from '../../src/readmodel/conflicts.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';

describe('convergence rules between two sites', () => {
  let a: AuthlogNode;
  let b: AuthlogNode;
  const exec = <R>(n: AuthlogNode, c: Command<R>) => n.execute(c, { actor: 'system' });
  const exchange = async () => {
    await pull(a, b);
    await pull(b, a);
    assert.equal(a.digest(), b.digest());
  };
  beforeEach(async () => {
    a = await startMemoryNode('site-a');
    b = await startMemoryNode('site-b');
    await exec(a, registerPrincipal({ principalId: 'p1', kind: 'person', briefName: 'One' }));
    await exchange();
  });
  afterEach(async () => {
    await stopNode(a);
    await stopNode(b);
  });

  it('LWW: concurrent profile changes end with the highest HLC everywhere', async () => {
    await exec(a, changeProfile({ principalId: 'p1', fullName: 'From A' }));
    await exec(b, changeProfile({ principalId: 'p1', fullName: 'From B' }));
    // b decided later in wall time on this machine, but the rule is HLC order, not arrival.
    const hlcA = a.read.get('SELECT full_name_hlc AS h FROM principals WHERE id = ?', 'p1')!
      .h as string;
    const hlcB = b.read.get('SELECT full_name_hlc AS h FROM principals WHERE id = ?', 'p1')!
      .h as string;
    await exchange();
    const expected = hlcA > hlcB ? 'From A' : 'From B';
    assert.equal(getPrincipal(a.read, 'p1')!.fullName, expected);
    assert.equal(getPrincipal(b.read, 'p1')!.fullName, expected);
  });

  it('restrictive: a concurrent deactivate beats an activate, in either arrival order', async () => {
    await exec(a, deactivatePrincipal({ principalId: 'p1', reason: 'suspected' }));
    await exec(a, activatePrincipal({ principalId: 'p1' })); // A disables and re-enables …
    await exec(b, deactivatePrincipal({ principalId: 'p1', reason: 'left' })); // … while B, not knowing, disables
    assert.equal(getPrincipal(a.read, 'p1')!.active, true);
    await exchange();
    assert.equal(getPrincipal(a.read, 'p1')!.active, false);
    assert.equal(getPrincipal(b.read, 'p1')!.active, false);
    // A later enable that has seen both wins again.
    await exec(b, activatePrincipal({ principalId: 'p1' }));
    await exchange();
    assert.equal(getPrincipal(a.read, 'p1')!.active, true);
  });

  it('terminal: a delete is final; an identity added concurrently is born removed', async () => {
    await exec(a, deletePrincipal({ principalId: 'p1' }));
    await exec(b, addIdentity({ identityId: 'i-b', principalId: 'p1', name: 'one' }));
    await exec(b, changeProfile({ principalId: 'p1', briefName: 'Revived?' }));
    await exchange();
    for (const n of [a, b]) {
      assert.equal(getPrincipal(n.read, 'p1')!.deleted, true);
      assert.deepEqual(
        identitiesOf(n.read, 'p1').map((i) => [i.id, i.status]),
        [['i-b', 'released']],
      );
    }
  });

  it('unique claim: the same name registered at both sites — earliest holds, the other is a listed conflict', async () => {
    await exec(
      a,
      registerPrincipal({
        principalId: 'pa',
        kind: 'person',
        briefName: 'A',
        email: 'sam@x.org',
        identity: { identityId: 'ia', name: 'sam' },
      }),
    );
    await exec(
      b,
      registerPrincipal({
        principalId: 'pb',
        kind: 'person',
        briefName: 'B',
        email: 'SAM@x.org',
        identity: { identityId: 'ib', name: 'Sam' },
      }),
    );
    await exchange();
    const ia = a.read.get("SELECT hlc FROM identities WHERE id = 'ia'")!.hlc as string;
    const ib = a.read.get("SELECT hlc FROM identities WHERE id = 'ib'")!.hlc as string;
    const [winner, loser] = ia < ib ? ['ia', 'ib'] : ['ib', 'ia'];
    for (const n of [a, b]) {
      const conflicts = listConflicts(n.read);
      const identity = conflicts.find((c) => c.kind === 'unique-identity');
      assert.equal(identity?.subject, loser);
      assert.equal(identity?.winner, winner);
      assert.ok(conflicts.some((c) => c.kind === 'unique-email'));
    }
    // Removing the holder hands the name to the remaining claim, everywhere.
    await exec(a, deletePrincipal({ principalId: winner === 'ia' ? 'pa' : 'pb' }));
    await exchange();
    assert.equal(a.read.get('SELECT status FROM identities WHERE id = ?', loser)!.status, 'held');
    assert.deepEqual(listConflicts(b.read), []);
  });

  it('restrictive: a grant and a revoke made concurrently end revoked everywhere, listed as settled', async () => {
    await exec(a, createRole({ roleId: 'auditors', name: 'auditors' }));
    await exec(a, addRoleMember({ roleId: 'auditors', principalId: 'p1' }));
    await exchange();
    await exec(
      a,
      setGrant({ roleId: 'auditors', privilege: 'authlog.audit.read', effect: 'grant' }),
    );
    await exec(
      b,
      setGrant({ roleId: 'auditors', privilege: 'authlog.audit.read', effect: 'revoke' }),
    );
    assert.equal(
      a.authz.check({ subject: { principalId: 'p1' }, privilege: 'authlog.audit.read' }).allow,
      true,
    );
    await exchange();
    for (const n of [a, b]) {
      assert.equal(
        n.authz.check({ subject: { principalId: 'p1' }, privilege: 'authlog.audit.read' }).allow,
        false,
      );
      const settled = listConflicts(n.read).filter((c) => c.kind === 'concurrent-writes');
      assert.equal(settled.length, 1);
      assert.equal(settled[0]?.winner, 'revoke');
    }
  });

  it('graph edge: concurrent parent changes closing a cycle end in one acyclic hierarchy, flagged', async () => {
    await exec(a, createRole({ roleId: 'x', name: 'x' }));
    await exec(a, createRole({ roleId: 'y', name: 'y' }));
    await exchange();
    await exec(a, updateRole({ roleId: 'x', parentId: 'y' })); // each site alone sees no cycle …
    await exec(b, updateRole({ roleId: 'y', parentId: 'x' })); // … together they make one
    await exchange();
    const hx = a.read.get("SELECT parent_hlc AS h FROM roles WHERE id = 'x'")!.h as string;
    const hy = a.read.get("SELECT parent_hlc AS h FROM roles WHERE id = 'y'")!.h as string;
    const newest = hx > hy ? 'x' : 'y';
    for (const n of [a, b]) {
      const x = getRole(n.read, 'x')!;
      const y = getRole(n.read, 'y')!;
      assert.equal(
        newest === 'x' ? x.effectiveParentId : y.effectiveParentId,
        null,
        'the newest edge is cut',
      );
      assert.equal(
        newest === 'x' ? y.effectiveParentId : x.effectiveParentId,
        newest === 'x' ? 'x' : 'y',
      );
      assert.deepEqual(
        listConflicts(n.read)
          .filter((c) => c.kind === 'cycle-edge')
          .map((c) => c.subject),
        [newest],
      );
    }
    // Removing the surviving edge lets the cut one take effect again, everywhere.
    await exec(a, updateRole({ roleId: newest === 'x' ? 'y' : 'x', parentId: null }));
    await exchange();
    assert.equal(getRole(b.read, newest)!.effectiveParentId, newest === 'x' ? 'y' : 'x');
    assert.deepEqual(
      listConflicts(b.read).filter((c) => c.kind === 'cycle-edge'),
      [],
    );
  });

  it('names chosen by users (privileges, resource types) defined at two sites at once converge', async () => {
    await exec(a, definePrivilege({ privilege: 'report.read', description: 'from A' }));
    await exec(a, defineResourceType({ resourceType: 'invoice', actions: ['select'] }));
    await exec(b, definePrivilege({ privilege: 'report.read', description: 'from B' }));
    await exec(b, defineResourceType({ resourceType: 'invoice', actions: ['approve', 'select'] }));
    // Deliver in opposite orders on the two sides; exchange() asserts equal digests.
    await pull(b, a);
    await pull(a, b);
    assert.equal(a.digest(), b.digest());
  });

  it('ids chosen by clients, created at two sites at once, merge into one row and are listed', async () => {
    // Both sites create principal `shared`, identity directory `dir`, role directory `ops-dir`
    // and role `ops` without hearing of each other, with different contents.
    const create = (n: AuthlogNode, tag: string) =>
      [
        registerPrincipal({
          principalId: 'shared',
          kind: tag === 'A' ? 'person' : 'service',
          briefName: `Brief ${tag}`,
          email: `${tag.toLowerCase()}@example.org`,
        }),
        defineIdentityDirectory({ directoryId: 'dir', name: `corp-${tag}` }),
        defineRoleDirectory({
          directoryId: 'ops-dir',
          name: `ops-${tag}`,
          requiredEvidences: tag === 'A' ? ['ownership'] : [],
        }),
        createRole({ roleId: 'ops', name: `ops-${tag}`, directoryId: 'ops-dir' }),
        defineCredentialDirectory({
          directoryId: 'corp-pw',
          name: `corp-pw-${tag.toLowerCase()}`,
          kind: 'password',
          evidences: ['knowledge'],
        }),
      ].reduce(
        (p, c) => p.then(() => exec(n, c as Command<unknown>)),
        Promise.resolve() as Promise<unknown>,
      );
    await create(a, 'A');
    await create(b, 'B');
    const hlcOf = (n: AuthlogNode, sql: string) => String(n.read.get(sql)!.h);
    const firstIsA =
      hlcOf(a, "SELECT created_hlc AS h FROM principals WHERE id = 'shared'") <
      hlcOf(b, "SELECT created_hlc AS h FROM principals WHERE id = 'shared'");
    await exchange(); // asserts equal digests
    for (const n of [a, b]) {
      const p = getPrincipal(n.read, 'shared')!;
      // Creation facts: the earliest creation; names: the latest write (LWW).
      assert.equal(p.kind, firstIsA ? 'person' : 'service');
      assert.equal(p.briefName, firstIsA ? 'Brief B' : 'Brief A');
      const role = getRole(n.read, 'ops')!;
      assert.equal(role.name, firstIsA ? 'ops-B' : 'ops-A');
      const dup = n.read.all(
        "SELECT scope FROM conflicts WHERE kind = 'duplicate-creation' ORDER BY scope",
      );
      assert.deepEqual(
        dup.map((r) => r.scope),
        [
          'credential-directory:corp-pw',
          'identity-directory:dir',
          'principal:shared',
          'role-directory:ops-dir',
          'role:ops',
        ],
      );
    }
  });

  it('authority race: an administrator acting while deactivated at another site is listed', async () => {
    await exec(a, registerPrincipal({ principalId: 'adm', kind: 'person', briefName: 'Admin' }));
    await exec(a, addRoleMember({ roleId: 'administrators', principalId: 'adm' }));
    await exchange();
    // B deactivates adm while adm, at A, creates a role and grants a membership.
    await exec(b, deactivatePrincipal({ principalId: 'adm', reason: 'left' }));
    await a.execute(createRole({ roleId: 'r-race', name: 'racy' }), { actor: 'adm' });
    await a.execute(addRoleMember({ roleId: 'r-race', principalId: 'p1' }), { actor: 'adm' });
    // After hearing of the deactivation, adm can no longer act, and nothing later is listed.
    await exchange();
    await assert.rejects(
      a.execute(createRole({ roleId: 'r-late', name: 'late' }), { actor: 'adm' }),
    );
    for (const n of [a, b]) {
      const races = n.read.all(
        "SELECT scope, detail FROM conflicts WHERE kind = 'authority-race' ORDER BY detail",
      );
      assert.deepEqual(
        races.map((r) => `${r.scope} ${r.detail}`),
        [
          'actor:adm RoleDefined concurrent with PrincipalDeactivated',
          'actor:adm RoleMembershipGranted concurrent with PrincipalDeactivated',
        ],
      );
    }
    // Quarantined (DESIGN.md section 5): neither action has any effect, on either node, and
    // both nodes list them alike.
    for (const n of [a, b]) {
      assert.equal(getRole(n.read, 'r-race'), undefined, n.id);
      assert.deepEqual(
        inertEvents(n.read).map((i) => `${i.type} ${i.actor}`),
        ['RoleDefined adm', 'RoleMembershipGranted adm'],
      );
    }
    // An administrator who still holds the authority re-affirms what should stand: a new
    // command, which has seen the deactivation, so it races with nothing.
    await exec(b, createRole({ roleId: 'r-race', name: 'racy' }));
    await exchange();
    for (const n of [a, b]) assert.ok(getRole(n.read, 'r-race'), n.id);
  });

  // The grant an event was authorized by is recorded on it at its origin, so a concurrent
  // revocation of that grant is a race too, on every node alike.
  const raceList = (n: AuthlogNode) =>
    n.read
      .all("SELECT scope, detail FROM conflicts WHERE kind = 'authority-race' ORDER BY detail")
      .map((r) => `${r.scope} ${r.detail}`);
  const managerOf = async (roleId: string) => {
    await exec(a, registerPrincipal({ principalId: 'mgr', kind: 'person', briefName: 'Manager' }));
    await exec(a, createRole({ roleId, name: roleId }));
    await exec(a, setGrant({ roleId, privilege: MANAGE_ROLES, effect: 'grant' }));
    await exec(a, addRoleMember({ roleId, principalId: 'mgr' }));
    await exchange();
  };

  it('authority race: a privilege revoked from the actor’s role at another site is listed', async () => {
    await managerOf('managers');
    const created = await a.execute(createRole({ roleId: 'r-by-mgr', name: 'by-mgr' }), {
      actor: 'mgr',
    });
    assert.deepEqual(created.events[0]!.authority, [
      { role: 'managers', grantedBy: 'managers', grant: `privilege:${MANAGE_ROLES}` },
    ]);
    await exec(b, setGrant({ roleId: 'managers', privilege: MANAGE_ROLES, effect: 'revoke' }));
    await exchange();
    for (const n of [a, b]) {
      assert.deepEqual(raceList(n), ['actor:mgr RoleDefined concurrent with RolePrivilegeSet']);
      // Auditors see the grant in the trail, on every node.
      assert.deepEqual(
        n.read.get('SELECT allowed_by FROM audit WHERE event_id = ?', created.events[0]!.id),
        { allowed_by: `privilege:${MANAGE_ROLES} of managers` },
      );
    }
    // Once the revocation is known the manager is refused, and later grants race with nothing.
    await assert.rejects(
      a.execute(createRole({ roleId: 'r-late', name: 'late' }), { actor: 'mgr' }),
    );
    await exec(b, setGrant({ roleId: 'managers', privilege: MANAGE_ROLES, effect: 'grant' }));
    await exchange();
    await a.execute(createRole({ roleId: 'r-after', name: 'after' }), { actor: 'mgr' });
    await exchange();
    for (const n of [a, b]) assert.equal(raceList(n).length, 1);
  });

  it('an event records at most 32 grants, and stays readable at every site', async () => {
    await managerOf('managers');
    const privileges = Array.from({ length: 40 }, (_, i) => `test.p${i}`);
    await exec(a, createRole({ roleId: 'big', name: 'big' }));
    for (const privilege of privileges) {
      await exec(a, definePrivilege({ privilege }));
      for (const roleId of ['managers', 'big'])
        await exec(a, setGrant({ roleId, privilege, effect: 'grant' }));
    }
    await exchange();
    // Adding a member hands out all 40 privileges: the manager must hold each.
    const added = await a.execute(addRoleMember({ roleId: 'big', principalId: 'p1' }), {
      actor: 'mgr',
    });
    const authority = added.events[0]!.authority!;
    assert.equal(authority.length, 32);
    assert.equal(authority[0]!.grant, `privilege:${MANAGE_ROLES}`);
    await exchange(); // b ingests it through the validating feed; equal digests
    const stored = await b.store.readAll({ maxCount: 10_000 });
    assert.ok(stored.some((r) => r.id === added.events[0]!.id));
  });

  it('authority race: an inherited grant cut on its way (a parent changed, a role between revoking) is listed', async () => {
    await exec(a, registerPrincipal({ principalId: 'mgr', kind: 'person', briefName: 'Manager' }));
    await exec(a, createRole({ roleId: 'staff', name: 'staff' }));
    await exec(a, setGrant({ roleId: 'staff', privilege: MANAGE_ROLES, effect: 'grant' }));
    await exec(a, createRole({ roleId: 'mid', name: 'mid', parentId: 'staff' }));
    await exec(a, createRole({ roleId: 'juniors', name: 'juniors', parentId: 'mid' }));
    await exec(a, createRole({ roleId: 'elsewhere', name: 'elsewhere' }));
    await exec(a, addRoleMember({ roleId: 'juniors', principalId: 'mgr' }));
    await exchange();
    const first = await a.execute(createRole({ roleId: 'r1', name: 'r1' }), { actor: 'mgr' });
    assert.deepEqual(first.events[0]!.authority, [
      { role: 'juniors', grantedBy: 'staff', grant: `privilege:${MANAGE_ROLES}`, between: ['mid'] },
    ]);
    // A parent change off the chain races with nothing; one on it does.
    await exec(b, updateRole({ roleId: 'elsewhere', parentId: 'staff' }));
    await exec(b, updateRole({ roleId: 'mid', parentId: null }));
    await exchange();
    await exec(a, updateRole({ roleId: 'mid', parentId: 'staff' }));
    await exchange();
    await a.execute(createRole({ roleId: 'r2', name: 'r2' }), { actor: 'mgr' });
    await exec(b, setGrant({ roleId: 'mid', privilege: MANAGE_ROLES, effect: 'revoke' }));
    await exchange();
    for (const n of [a, b]) {
      assert.deepEqual(raceList(n), [
        'actor:mgr RoleDefined concurrent with RoleChanged',
        'actor:mgr RoleDefined concurrent with RolePrivilegeSet',
      ]);
      assert.deepEqual(
        n.read.get('SELECT allowed_by FROM audit WHERE event_id = ?', first.events[0]!.id),
        { allowed_by: `privilege:${MANAGE_ROLES} of staff via juniors` },
      );
    }
  });

  it('authority race: the actor’s role deleted at another site is listed; a grant elsewhere is not', async () => {
    await managerOf('managers');
    await exec(a, createRole({ roleId: 'other', name: 'other' }));
    // A use the deleting site has seen is no race.
    await a.execute(createRole({ roleId: 'r-seen', name: 'seen' }), { actor: 'mgr' });
    await exchange();
    await a.execute(createRole({ roleId: 'r-by-mgr', name: 'by-mgr' }), { actor: 'mgr' });
    // Revoking the same privilege on a role the manager is not in races with nothing.
    await exec(b, setGrant({ roleId: 'other', privilege: MANAGE_ROLES, effect: 'revoke' }));
    await exec(b, deleteRole({ roleId: 'managers' }));
    await exchange();
    for (const n of [a, b])
      assert.deepEqual(raceList(n), ['actor:mgr RoleDefined concurrent with RoleDeleted']);
  });
});
