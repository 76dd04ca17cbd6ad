// The bench:authz model: roles in a hierarchy, grants, principals with memberships and the
// questions asked, from a fixed-seed generator so every process that builds it gets the same.
import { registerPrincipal } from '../../src/authn/principals.ts';
import {
  addRoleMember,
  createRole,
  defineResourceType,
  setGrant,
} from '../../src/authz/commands.ts';
import type { Command } from '../../src/node/command.ts';
import type { AuthlogNode } from '../../src/node/node.ts';

export const ACTIONS = ['select', 'create', 'update', 'delete'];
export const TOKEN = 'bench-operator-token-0123456789abcdefghij';
const OBJECTS = 1000;

export type Sizes = { readonly principals: number; readonly roles: number; readonly types: number };
export type Grant = { role: string; type: string; action: string; object: string | null };
export type Question = { principal: string; type: string; action: string; object: string };

export const model = (sizes: Sizes) => {
  // A fixed-seed generator: both engines get the very same model and questions.
  let seed = 42;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const roles = Array.from({ length: sizes.roles }, (_, i) => ({
    id: `r${i}`,
    parent: i === 0 ? null : `r${Math.floor((i - 1) / 4)}`,
  }));
  const types = Array.from({ length: sizes.types }, (_, i) => `t${i}`);
  const grants: Grant[] = [];
  for (const r of roles) {
    for (let k = 0; k < 2; k++)
      grants.push({ role: r.id, type: pick(types), action: pick(ACTIONS), object: null });
    for (let k = 0; k < 5; k++)
      grants.push({
        role: r.id,
        type: pick(types),
        action: pick(ACTIONS),
        object: `o${Math.floor(rand() * OBJECTS)}`,
      });
  }
  const members = Array.from({ length: sizes.principals }, (_, i) => ({
    principal: `u${i}`,
    roles: [pick(roles).id, pick(roles).id],
  }));
  const questions: Question[] = Array.from({ length: 10_000 }, () => ({
    principal: `u${Math.floor(rand() * sizes.principals)}`,
    type: pick(types),
    action: pick(ACTIONS),
    object: `o${Math.floor(rand() * OBJECTS)}`,
  }));
  return { roles, types, grants, members, questions };
};
export type Model = ReturnType<typeof model>;

/** The body of the check request that asks `q`. */
export const checkBody = (q: Question): string =>
  JSON.stringify({
    principalId: q.principal,
    resourceType: q.type,
    action: q.action,
    objectId: q.object,
  });

const inWindows = async (commands: Command<unknown>[], node: AuthlogNode, window = 500) => {
  for (let i = 0; i < commands.length; i += window) {
    await Promise.all(
      commands.slice(i, i + window).map((c) => node.execute(c, { actor: 'system' })),
    );
  }
};

/** Writes the model into a node through its commands, as an operator would. */
export const loadModel = async (m: Model, node: AuthlogNode): Promise<void> => {
  await inWindows(
    m.types.map((t) => defineResourceType({ resourceType: t })),
    node,
  );
  for (const r of m.roles)
    await node.execute(createRole({ roleId: r.id, name: r.id, parentId: r.parent }), {
      actor: 'system',
    });
  await inWindows(
    m.grants.map((g) =>
      setGrant(
        g.object === null
          ? { roleId: g.role, resourceType: g.type, action: g.action, effect: 'grant' }
          : {
              roleId: g.role,
              resourceType: g.type,
              action: g.action,
              objectId: g.object,
              effect: 'grant',
            },
      ),
    ),
    node,
  );
  await inWindows(
    m.members.map((u) =>
      registerPrincipal({ principalId: u.principal, kind: 'person', briefName: u.principal }),
    ),
    node,
  );
  await inWindows(
    m.members.flatMap((u) =>
      u.roles.map((r) => addRoleMember({ roleId: r, principalId: u.principal })),
    ),
    node,
  );
};
