// Threat: privilege escalation (or a lock-out) through the role graph by an administrator of
// roles (issue 14 item 1). For any role graph (parents, grants and revokes), any memberships and
// any single change a holder of `authlog.roles.manage` makes — a role's parent, a grant's effect
// (`inherit` included), a membership either way, a role deleted — if the change is allowed, then
// for every principal and every privilege:
//   gained ⇒ the actor held it before   (nobody hands out what they do not hold)
//   lost   ⇒ the actor held it before   (nobody takes away what they could not hand out)
// The answers come from the check engine before and after, not from the rule being tested.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { registerPrincipal } from '../../src/authn/principals.ts';
import {
  addRoleMember,
  createRole,
  definePrivilege,
  deleteRole,
  removeRoleMember,
  setGrant,
  updateRole,
} from '../../src/authz/commands.ts';
import { AppError } from '../../src/errors.ts';
import type { Command } from '../../src/node/command.ts';
import { startMemoryNode, stopNode } from '../support/in-process.ts';

const PRIVILEGES = ['x.a', 'x.b', 'x.c', 'authlog.audit.read'];
const ROLES = ['r0', 'r1', 'r2', 'r3', 'mgr'];
const PEOPLE = ['u0', 'u1', 'act'];
const EFFECTS = ['grant', 'revoke', 'inherit'] as const;

const world = fc.record({
  // r_i's parent is one of the roles before it (acyclic), or none; mgr's likewise among r*.
  parents: fc.tuple(
    fc.constant(null),
    fc.option(fc.constantFrom('r0'), { nil: null }),
    fc.option(fc.constantFrom('r0', 'r1'), { nil: null }),
    fc.option(fc.constantFrom('r0', 'r1', 'r2'), { nil: null }),
    fc.option(fc.constantFrom('r0', 'r1', 'r2', 'r3'), { nil: null }),
  ),
  grants: fc.array(
    fc.record({
      role: fc.constantFrom(...ROLES),
      privilege: fc.constantFrom(...PRIVILEGES),
      effect: fc.constantFrom('grant', 'revoke'),
    }),
    { maxLength: 12 },
  ),
  members: fc.array(
    fc.record({ role: fc.constantFrom(...ROLES), principal: fc.constantFrom(...PEOPLE) }),
    { maxLength: 8 },
  ),
  change: fc.oneof(
    fc.record({
      kind: fc.constant('parent' as const),
      role: fc.constantFrom(...ROLES),
      parent: fc.option(fc.constantFrom(...ROLES, 'administrators'), { nil: null }),
    }),
    fc.record({
      kind: fc.constant('grant' as const),
      role: fc.constantFrom(...ROLES),
      privilege: fc.constantFrom(...PRIVILEGES),
      effect: fc.constantFrom(...EFFECTS),
    }),
    fc.record({
      kind: fc.constantFrom('add' as const, 'remove' as const),
      role: fc.constantFrom(...ROLES, 'administrators'),
      principal: fc.constantFrom(...PEOPLE),
    }),
    fc.record({ kind: fc.constant('delete' as const), role: fc.constantFrom(...ROLES) }),
  ),
});

describe('conferral property: an allowed change moves only grants its actor holds', () => {
  it('for any role graph, memberships and change', async () => {
    let allowed = 0;
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        const node = await startMemoryNode('conferral');
        try {
          const sys = <R>(c: Command<R>) => node.execute(c, { actor: 'system' });
          for (const p of PRIVILEGES.filter((p) => !p.startsWith('authlog.')))
            await sys(definePrivilege({ privilege: p }));
          for (const [i, role] of ROLES.entries())
            await sys(createRole({ roleId: role, name: role, parentId: w.parents[i] ?? null }));
          // The actor administers roles through mgr.
          await sys(
            setGrant({ roleId: 'mgr', privilege: 'authlog.roles.manage', effect: 'grant' }),
          );
          for (const g of w.grants)
            await sys(
              setGrant({
                roleId: g.role,
                privilege: g.privilege,
                effect:
                  g.role === 'mgr' && g.privilege === 'authlog.roles.manage' ? 'grant' : g.effect,
              }),
            );
          for (const p of PEOPLE)
            await sys(registerPrincipal({ principalId: p, kind: 'person', briefName: p }));
          await sys(addRoleMember({ roleId: 'mgr', principalId: 'act' }));
          for (const m of w.members)
            await sys(addRoleMember({ roleId: m.role, principalId: m.principal }));

          const universe = [...PRIVILEGES, 'authlog.roles.manage', 'authlog.admin'];
          const holds = () =>
            new Map(
              PEOPLE.map((p) => [
                p,
                new Set(
                  universe.filter(
                    (q) => node.authz.check({ subject: { principalId: p }, privilege: q }).allow,
                  ),
                ),
              ]),
            );
          const before = holds();
          const c = w.change;
          const command: Command<unknown> =
            c.kind === 'parent'
              ? updateRole({ roleId: c.role, parentId: c.parent })
              : c.kind === 'grant'
                ? setGrant({ roleId: c.role, privilege: c.privilege, effect: c.effect })
                : c.kind === 'add'
                  ? addRoleMember({ roleId: c.role, principalId: c.principal })
                  : c.kind === 'remove'
                    ? removeRoleMember({ roleId: c.role, principalId: c.principal })
                    : deleteRole({ roleId: c.role });
          try {
            await node.execute(command, { actor: 'act' });
          } catch (err) {
            if (err instanceof AppError) return; // refused: nothing to check
            throw err;
          }
          allowed += 1;
          const after = holds();
          const actor = before.get('act')!;
          for (const p of PEOPLE) {
            const was = before.get(p)!;
            const is = after.get(p)!;
            for (const q of is)
              if (!was.has(q))
                assert.ok(
                  actor.has(q),
                  `${p} gained ${q}, which act did not hold: ${JSON.stringify(c)}`,
                );
            for (const q of was)
              if (!is.has(q))
                assert.ok(
                  actor.has(q),
                  `${p} lost ${q}, which act did not hold: ${JSON.stringify(c)}`,
                );
          }
        } finally {
          await stopNode(node);
        }
      }),
      { numRuns: 500 },
    );
    // The property says nothing if every change was refused.
    assert.ok(allowed > 50, `only ${allowed} of 500 changes were allowed`);
  });
});
