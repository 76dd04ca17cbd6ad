// Authorization semantics (DESIGN.md section 8) on a real in-process node: hierarchy and
// inheritance, revocation mid-chain, evidence-gated roles, model over object priority, anonymous
// grants, revocations effective at the next check, and self-escalation refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deactivatePrincipal, registerPrincipal } from '../../src/authn/principals.ts';
import {
  addRoleMember,
  createRole,
  definePrivilege,
  defineResourceType,
  defineRoleDirectory,
  removeRoleMember,
  setGrant,
  updateRole,
} from '../../src/authz/commands.ts';
import { AppError } from '../../src/errors.ts';
import type { Command } from '../../src/node/command.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { startMemoryNode, stopNode } from '../support/in-process.ts';

describe('authorization', () => {
  let node: AuthlogNode;
  const sys = <R>(c: Command<R>) => node.execute(c, { actor: 'system' });
  const as = <R>(actor: string, c: Command<R>) => node.execute(c, { actor });
  const refused = (code: string) => (e: unknown) => e instanceof AppError && e.code === code;
  const can = (principalId: string, privilege: string, evidences?: string[]) =>
    node.authz.check({
      subject: { principalId, ...(evidences ? { evidences: new Set(evidences) } : {}) },
      privilege,
    });
  const person = (id: string) =>
    sys(registerPrincipal({ principalId: id, kind: 'person', briefName: id }));

  before(async () => {
    node = await startMemoryNode('authz');
    for (const p of ['report.read', 'report.write', 'console.open'])
      await sys(definePrivilege({ privilege: p }));
    await sys(defineResourceType({ resourceType: 'invoice' }));
  });
  after(() => stopNode(node));

  it('inherits along a deep chain and honours a revocation in the middle', async () => {
    const depth = 60;
    for (let i = 0; i < depth; i++)
      await sys(
        createRole({ roleId: `c${i}`, name: `chain-${i}`, parentId: i === 0 ? null : `c${i - 1}` }),
      );
    await sys(setGrant({ roleId: 'c0', privilege: 'report.read', effect: 'grant' }));
    await sys(setGrant({ roleId: 'c30', privilege: 'report.read', effect: 'revoke' }));
    await person('deep');
    await person('shallow');
    await sys(addRoleMember({ roleId: `c${depth - 1}`, principalId: 'deep' }));
    await sys(addRoleMember({ roleId: 'c10', principalId: 'shallow' }));
    const s = can('shallow', 'report.read');
    assert.equal(s.allow, true, s.reason);
    assert.equal(s.grantedBy, 'c0');
    assert.match(s.reason, /inherited from c0/);
    assert.equal(can('deep', 'report.read').allow, false);
    // Back to inherit at c30: the root's grant flows down again.
    await sys(setGrant({ roleId: 'c30', privilege: 'report.read', effect: 'inherit' }));
    assert.equal(can('deep', 'report.read').allow, true);
  });

  it('refuses a cycle on one node, and checks terminate on chains thousands deep', async () => {
    await assert.rejects(sys(updateRole({ roleId: 'c0', parentId: 'c59' })), refused('ROLE_CYCLE'));
    await assert.rejects(sys(updateRole({ roleId: 'c5', parentId: 'c5' })), refused('ROLE_CYCLE'));
    for (let i = 0; i < 2000; i++)
      await sys(
        createRole({ roleId: `d${i}`, name: `d-${i}`, parentId: i === 0 ? null : `d${i - 1}` }),
      );
    await sys(setGrant({ roleId: 'd0', privilege: 'console.open', effect: 'grant' }));
    await person('bottom');
    await sys(addRoleMember({ roleId: 'd1999', principalId: 'bottom' }));
    assert.equal(can('bottom', 'console.open').allow, true);
  });

  it('evidence-gated roles count only while the session holds the evidence', async () => {
    await sys(
      defineRoleDirectory({
        directoryId: 'ops',
        name: 'operators',
        requiredEvidences: ['ownership'],
      }),
    );
    await sys(createRole({ roleId: 'oncall', name: 'oncall', directoryId: 'ops' }));
    await sys(setGrant({ roleId: 'oncall', privilege: 'report.write', effect: 'grant' }));
    await person('op');
    await sys(addRoleMember({ roleId: 'oncall', principalId: 'op' }));
    const bare = can('op', 'report.write', ['knowledge']);
    assert.equal(bare.allow, false);
    assert.deepEqual(bare.missingEvidences, ['ownership']);
    assert.equal(can('op', 'report.write', ['knowledge', 'ownership']).allow, true);
    assert.equal(
      can('op', 'report.write').allow,
      false,
      'a check by principal alone has no evidence',
    );
  });

  it('model permissions take priority over object permissions, both ways', async () => {
    await sys(createRole({ roleId: 'clerk', name: 'clerk' }));
    await sys(
      setGrant({
        roleId: 'clerk',
        resourceType: 'invoice',
        action: 'update',
        objectId: 'inv-1',
        effect: 'grant',
      }),
    );
    await sys(
      setGrant({
        roleId: 'clerk',
        resourceType: 'invoice',
        action: 'update',
        objectId: 'inv-2',
        effect: 'grant',
      }),
    );
    await person('kim');
    await sys(addRoleMember({ roleId: 'clerk', principalId: 'kim' }));
    const check = (objectId: string) =>
      node.authz.check({
        subject: { principalId: 'kim' },
        resourceType: 'invoice',
        action: 'update',
        objectId,
      }).allow;
    assert.equal(check('inv-1'), true);
    assert.equal(check('inv-3'), false);
    assert.deepEqual(node.authz.objects({ principalId: 'kim' }, 'invoice', 'update'), {
      all: false,
      ids: ['inv-1', 'inv-2'],
    });
    await sys(
      setGrant({ roleId: 'clerk', resourceType: 'invoice', action: 'update', effect: 'revoke' }),
    );
    assert.equal(check('inv-1'), false, 'model revoke overrides the object grant');
    assert.deepEqual(node.authz.objects({ principalId: 'kim' }, 'invoice', 'update'), {
      all: false,
      ids: [],
    });
    await sys(
      setGrant({ roleId: 'clerk', resourceType: 'invoice', action: 'update', effect: 'grant' }),
    );
    assert.equal(check('inv-999'), true);
    assert.deepEqual(node.authz.objects({ principalId: 'kim' }, 'invoice', 'update'), {
      all: true,
      role: 'clerk',
    });
    await assert.rejects(
      sys(
        setGrant({ roleId: 'clerk', resourceType: 'invoice', action: 'approve', effect: 'grant' }),
      ),
      refused('ACTION_NOT_FOUND'),
    );
  });

  it('grants to anonymous apply to everyone; revocations apply at the next check', async () => {
    await sys(createRole({ roleId: 'public', name: 'public' }));
    await sys(
      setGrant({
        roleId: 'public',
        resourceType: 'invoice',
        action: 'select',
        objectId: 'brochure',
        effect: 'grant',
      }),
    );
    await person('nobody-special');
    const see = () =>
      node.authz.check({
        subject: { principalId: 'nobody-special' },
        resourceType: 'invoice',
        action: 'select',
        objectId: 'brochure',
      }).allow;
    assert.equal(see(), false);
    await sys(addRoleMember({ roleId: 'public', principalId: 'anonymous' }));
    assert.equal(see(), true);
    await sys(removeRoleMember({ roleId: 'public', principalId: 'anonymous' }));
    assert.equal(see(), false);
    await sys(addRoleMember({ roleId: 'public', principalId: 'nobody-special' }));
    assert.equal(see(), true);
    await sys(deactivatePrincipal({ principalId: 'nobody-special' }));
    assert.equal(see(), false, 'an inactive principal is denied everything');
  });

  it('nobody can grant what they do not hold (no self-escalation)', async () => {
    await sys(createRole({ roleId: 'managers', name: 'managers' }));
    await sys(setGrant({ roleId: 'managers', privilege: 'authlog.roles.manage', effect: 'grant' }));
    await sys(setGrant({ roleId: 'managers', privilege: 'report.read', effect: 'grant' }));
    await person('mallory');
    await sys(addRoleMember({ roleId: 'managers', principalId: 'mallory' }));
    await person('outsider');
    await assert.rejects(
      as('outsider', definePrivilege({ privilege: 'x.y' })),
      refused('FORBIDDEN'),
    );
    await assert.rejects(
      as('mallory', setGrant({ roleId: 'managers', privilege: 'console.open', effect: 'grant' })),
      refused('FORBIDDEN'),
    );
    await assert.rejects(
      as('mallory', addRoleMember({ roleId: 'administrators', principalId: 'mallory' })),
      refused('FORBIDDEN'),
    );
    await assert.rejects(
      as('mallory', addRoleMember({ roleId: 'd1999', principalId: 'mallory' })),
      refused('FORBIDDEN'),
    );
    await assert.rejects(
      as('mallory', addRoleMember({ roleId: 'oncall', principalId: 'mallory' })),
      refused('FORBIDDEN'),
    );
    await assert.rejects(
      as('mallory', registerPrincipal({ principalId: 'sock', kind: 'person', briefName: 'sock' })),
      refused('FORBIDDEN'),
    );
    // What mallory holds, mallory may hand on.
    await as('mallory', createRole({ roleId: 'readers', name: 'readers' }));
    await as('mallory', setGrant({ roleId: 'readers', privilege: 'report.read', effect: 'grant' }));
    await as('mallory', addRoleMember({ roleId: 'readers', principalId: 'outsider' }));
    assert.equal(can('outsider', 'report.read').allow, true);
    assert.equal(can('mallory', 'console.open').allow, false);
  });
});
