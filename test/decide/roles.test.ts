// Decisions on roles, grants and memberships (src/authz/commands.ts), as given/when/then over the
// real read model, including the conferral refusals of issue 14: nobody hands out, or takes away,
// more than they hold (a role's new parent, an `inherit` that lifts a revoke, removing an
// administrator from its role), and the authority each allowed change records.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import {
  addRoleMember,
  createRole,
  definePrivilege,
  defineResourceType,
  deleteRole,
  removeRoleMember,
  setGrant,
  updateRole,
} from '../../src/authz/commands.ts';
import {
  administrator,
  elevated,
  given,
  holder,
  member,
  principal,
  privilegeOf,
  role,
  unelevated,
} from '../support/decide.ts';

const MANAGE = 'authlog.roles.manage';
const AUDIT = 'authlog.audit.read';
const asRoleManager = { role: 'rm-role', grantedBy: 'rm-role', grant: `privilege:${MANAGE}` };

describe('roles and grants: decisions', () => {
  it('defines a privilege, allowed by roles.manage; the same definition again records nothing', () => {
    const outcome = given(holder('rm', MANAGE))
      .when(definePrivilege({ privilege: 'billing.refund', description: 'Refunds' }), {
        actor: 'rm',
      })
      .then([
        { type: 'PrivilegeDefined', data: { privilege: 'billing.refund', description: 'Refunds' } },
      ]);
    assert.deepEqual(outcome.authority, [asRoleManager]);
    given({
      type: 'PrivilegeDefined',
      data: { privilege: 'billing.refund', description: 'Refunds' },
    })
      .when(definePrivilege({ privilege: 'billing.refund', description: 'Refunds' }))
      .then([]);
  });

  it('a resource type gets the default actions, sorted', () => {
    given()
      .when(defineResourceType({ resourceType: 'billing.invoice' }))
      .then([
        {
          type: 'ResourceTypeDefined',
          data: {
            resourceType: 'billing.invoice',
            actions: ['create', 'delete', 'select', 'update'],
          },
        },
      ]);
  });

  it('creates a role under a live parent, and refuses a missing one', () => {
    given(role('staff'))
      .when(createRole({ roleId: 'juniors', name: 'Juniors', parentId: 'staff' }))
      .then([
        {
          type: 'RoleDefined',
          data: {
            roleId: 'juniors',
            directoryId: 'default',
            name: 'Juniors',
            key: 'juniors',
            parentId: 'staff',
          },
        },
      ]);
    given()
      .when(createRole({ roleId: 'juniors', name: 'Juniors', parentId: 'staff' }))
      .thenRefused('ROLE_NOT_FOUND');
  });

  it('refuses a parent that closes a cycle', () => {
    given([role('a'), role('b', 'a')])
      .when(updateRole({ roleId: 'a', parentId: 'b' }))
      .thenRefused('ROLE_CYCLE');
  });

  it('a role manager cannot make its own role a child of administrators (issue 14 row 1)', () => {
    given(holder('rm', MANAGE))
      .when(updateRole({ roleId: 'rm-role', parentId: ADMINISTRATORS_ROLE }), elevated('rm'))
      .thenRefused('FORBIDDEN');
  });

  it('a new parent whose grants the actor holds is allowed, and both grants are its authority', () => {
    const outcome = given([
      ...holder('rm', MANAGE, AUDIT),
      role('staff'),
      privilegeOf('staff', AUDIT),
      role('juniors'),
    ])
      .when(updateRole({ roleId: 'juniors', parentId: 'staff' }), elevated('rm'))
      .then([{ type: 'RoleChanged', data: { roleId: 'juniors', parentId: 'staff' } }]);
    assert.deepEqual(outcome.authority, [
      asRoleManager,
      { role: 'rm-role', grantedBy: 'rm-role', grant: `privilege:${AUDIT}` },
    ]);
  });

  it('an inherit that lifts a revoke over a parent’s grant confers it (issue 14 row 1)', () => {
    const graph = [role('staff'), privilegeOf('staff', AUDIT), role('juniors', 'staff')];
    const revoked = privilegeOf('juniors', AUDIT, 'revoke');
    given([...holder('rm', MANAGE), ...graph, revoked])
      .when(setGrant({ roleId: 'juniors', privilege: AUDIT, effect: 'inherit' }), elevated('rm'))
      .thenRefused('FORBIDDEN');
    given([...holder('rm', MANAGE, AUDIT), ...graph, revoked])
      .when(setGrant({ roleId: 'juniors', privilege: AUDIT, effect: 'inherit' }), elevated('rm'))
      .then([
        {
          type: 'RolePrivilegeSet',
          data: { roleId: 'juniors', privilege: AUDIT, effect: 'inherit' },
        },
      ]);
  });

  it('granting needs an elevated session', () => {
    given([...holder('rm', MANAGE, AUDIT), role('staff')])
      .when(setGrant({ roleId: 'staff', privilege: AUDIT, effect: 'grant' }), unelevated('rm'))
      .thenRefused('ELEVATION_REQUIRED');
  });

  it('nobody grants what they do not hold', () => {
    given([...holder('rm', MANAGE), role('staff')])
      .when(setGrant({ roleId: 'staff', privilege: AUDIT, effect: 'grant' }), elevated('rm'))
      .thenRefused('FORBIDDEN');
  });

  it('a role manager cannot remove an administrator from administrators (a lock-out)', () => {
    given([...holder('rm', MANAGE), ...administrator('root')])
      .when(removeRoleMember({ roleId: ADMINISTRATORS_ROLE, principalId: 'root' }), elevated('rm'))
      .thenRefused('FORBIDDEN');
  });

  it('an administrator adds a member; its one grant covers everything the role holds', () => {
    const outcome = given([
      ...administrator('root'),
      role('staff'),
      privilegeOf('staff', AUDIT),
      principal('alice'),
    ])
      .when(addRoleMember({ roleId: 'staff', principalId: 'alice' }), elevated('root'))
      .then([{ type: 'RoleMembershipGranted', data: { roleId: 'staff', principalId: 'alice' } }]);
    assert.deepEqual(outcome.authority, [
      {
        role: ADMINISTRATORS_ROLE,
        grantedBy: ADMINISTRATORS_ROLE,
        grant: 'privilege:authlog.admin',
      },
    ]);
  });

  it('adding a member twice records nothing', () => {
    given([role('staff'), principal('alice'), member('staff', 'alice')])
      .when(addRoleMember({ roleId: 'staff', principalId: 'alice' }))
      .then([]);
  });

  it('an inherited grant records the roles it came through', () => {
    const outcome = given([
      principal('rm'),
      role('top'),
      privilegeOf('top', MANAGE),
      role('middle', 'top'),
      role('leaf', 'middle'),
      member('leaf', 'rm'),
    ])
      .when(definePrivilege({ privilege: 'billing.refund' }), { actor: 'rm' })
      .then([{ type: 'PrivilegeDefined', data: { privilege: 'billing.refund', description: '' } }]);
    assert.deepEqual(outcome.authority, [
      { role: 'leaf', grantedBy: 'top', grant: `privilege:${MANAGE}`, between: ['middle'] },
    ]);
  });

  it('the operator’s decisions record no authority', () => {
    const outcome = given(role('staff'))
      .when(deleteRole({ roleId: 'staff' }))
      .then([{ type: 'RoleDeleted', data: { roleId: 'staff' } }]);
    assert.equal(outcome.authority, undefined);
  });

  it('the administrators role cannot be deleted', () => {
    given()
      .when(deleteRole({ roleId: ADMINISTRATORS_ROLE }))
      .thenRefused('ROLE_PROTECTED');
  });
});
