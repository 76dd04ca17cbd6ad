// Nobody hands out, or takes over, more than they hold. One rule decides every administrative
// change that widens what some principal may do, or that gives the actor a hold on another
// principal's authentication (issue 14; OWASP ASVS 5.0 V8.2 "function and data level access
// control", V8.3.1 "enforced at a trusted service layer"; the least-privilege rule of NIST SP
// 800-53 AC-6(10): prevent non-privileged users from executing privileged functions):
//
//   the actor must hold every grant the change confers on any affected principal.
//
// What a change confers is computed here, from the read model the command decides against:
// - a membership, either way, or deleting a role: every grant the role holds, its own and
//   inherited (taking away is a lock-out, held to the same bar as handing out);
// - a grant's effect or a role's parent: the effective grants the change adds to, or takes from,
//   that role and every role below it (inheritance included), by evaluating the role graph before
//   and after;
// - a change to how other principals authenticate (their password, OTP, subnets, tokens, email or
//   phone, identities, active flag, lockout, policy, the identity or credential directory they log
//   in through): everything those principals hold, since whoever controls their authentication
//   acts as them. Acting on oneself confers nothing new.
// The check is `requireAccess` for each target, and each function here returns the grants that
// allowed the change: the command returns them in its decision, so they are what the event's
// recorded authority says (src/authz/admin.ts), and a concurrent revocation of any of them is an
// authority race like any other.

import {
  effectiveGrants,
  type GrantView,
  grantsOfRoles,
  liveRoleParents,
  membersOf,
  rolesHeldBy,
} from '../../projections/authz.ts';
import { ADMIN_PRIVILEGE } from '../../projections/authz-engine.ts';
import { principalsAdmittedTo, principalsWithIdentityIn } from '../../projections/identities.ts';
import { SYSTEM_ACTOR } from '../events/envelope.ts';
import type { Authority, CommandMeta } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { accessChecker, type Target } from './admin.ts';

export const targetOfGrant = (g: {
  readonly scope: string;
  readonly name: string;
  readonly objectId: string;
}): Target => {
  if (g.scope === 'privilege') return { privilege: g.name };
  const [resourceType = '', action = ''] = g.name.split(':');
  return g.scope === 'model'
    ? { resourceType, action }
    : { resourceType, action, objectId: g.objectId };
};

const grantKey = (g: { scope: string; name: string; objectId: string }) =>
  `${g.scope}\u0000${g.name}\u0000${g.objectId}`;

/** Throws FORBIDDEN (naming the first grant missing) unless the actor holds every grant;
 * returns the grants that allowed them. */
export const requireHoldsAll = (
  state: Reader,
  meta: CommandMeta,
  grants: Iterable<GrantView>,
): Authority => {
  if (meta.actor === SYSTEM_ACTOR) return [];
  const check = accessChecker(state, meta);
  const seen = new Set<string>();
  const used: Authority[] = [];
  for (const g of grants) {
    const key = grantKey(g);
    if (seen.has(key)) continue;
    seen.add(key);
    used.push(check(targetOfGrant(g)));
  }
  return used.flat();
};

/** The actor must hold every grant held by the live roles of `principals` (computed only when
 * the actor is not `system`); the actor's own are left out. */
const requireDominatesAll = (
  state: Reader,
  meta: CommandMeta,
  principals: () => readonly string[],
): Authority => {
  if (meta.actor === SYSTEM_ACTOR) return [];
  const others = principals().filter((id) => id !== meta.actor);
  return requireHoldsAll(
    state,
    meta,
    rolesHeldBy(state, others).flatMap((roleId) => effectiveGrants(state, roleId)),
  );
};

/** The actor must hold everything `principalId` holds (a hold on its authentication). */
export const requireDominates = (
  state: Reader,
  meta: CommandMeta,
  principalId: string,
): Authority => requireDominatesAll(state, meta, () => [principalId]);

/** The actor must hold everything the direct members of `roleId` hold (a role's policy). */
export const requireDominatesMembers = (
  state: Reader,
  meta: CommandMeta,
  roleId: string,
): Authority => requireDominatesAll(state, meta, () => membersOf(state, roleId));

/** The actor must hold everything held by anyone who logs in with an identity of `directoryId`. */
export const requireDominatesDirectory = (
  state: Reader,
  meta: CommandMeta,
  directoryId: string,
): Authority =>
  requireDominatesAll(state, meta, () => principalsWithIdentityIn(state, directoryId));

/** The actor must hold everything held by anyone who may log in with credential directory
 * `directoryId` (an identity in a directory that admits it: tied to it, or to any): the evidence
 * it gives, and for how long, decide what their sessions may do. */
export const requireDominatesUsersOf = (
  state: Reader,
  meta: CommandMeta,
  directoryId: string,
): Authority => requireDominatesAll(state, meta, () => principalsAdmittedTo(state, directoryId));

/**
 * An id chosen by the client may name a principal, role or directory created at the same time at
 * another site, and the two creations merge into one (`createOrMerge`, listed as a duplicate
 * creation): a principal registered here with an attacker's email and password becomes the one an
 * administrator was made of there, a role made here with its creator as member becomes the one
 * granted `authlog.admin` there. No check at this site can see that, so only an administrator
 * chooses ids; everyone else gets a generated ULID, which no other site can make.
 */
export const requireMayChooseId = (state: Reader, meta: CommandMeta): Authority =>
  accessChecker(state, meta)({ privilege: ADMIN_PRIVILEGE });

/** A change to one role of the graph: a new (effective) parent, or one grant's new effect. */
export type RoleChange =
  | { readonly roleId: string; readonly parentId: string | null }
  | {
      readonly roleId: string;
      readonly grant: { scope: string; name: string; objectId: string; effect: string };
    };

/**
 * The grants `change` adds to, or takes from, the effective grants of its role or of any role
 * below it: what it confers, and what it strips (a lock-out, held to the same bar). The role
 * graph is read once (live roles and their explicit grants) and evaluated before and after, with
 * the engine's semantics: along the chain from the root down, a role's own grant or revoke
 * overrides what it inherits.
 */
export const roleChangeTouches = (state: Reader, change: RoleChange): GrantView[] => {
  const parent = liveRoleParents(state);
  const parentAfter = new Map(parent);
  if ('parentId' in change) parentAfter.set(change.roleId, change.parentId);
  const chainOf = (roleId: string, parentOf: ReadonlyMap<string, string | null>): string[] => {
    const chain: string[] = [];
    for (let id: string | null = roleId; id !== null && !chain.includes(id); ) {
      chain.push(id);
      id = parentOf.get(id) ?? null;
    }
    return chain;
  };
  // The role and every role whose chain passes through it, before or after the change.
  const affected = [...parent.keys()].filter(
    (id) =>
      chainOf(id, parent).includes(change.roleId) ||
      chainOf(id, parentAfter).includes(change.roleId),
  );
  // Only the grants of roles on those chains matter (object permissions can be many).
  const onChains = new Set(
    affected.flatMap((id) => [...chainOf(id, parent), ...chainOf(id, parentAfter)]),
  );
  const own = new Map<string, Map<string, GrantView>>();
  for (const [roleId, grants] of grantsOfRoles(state, onChains))
    own.set(roleId, new Map(grants.map((g) => [grantKey(g), g])));
  const ownAfter = new Map(own);
  if ('grant' in change) {
    const map = new Map(own.get(change.roleId));
    const g = { ...change.grant };
    if (g.effect === 'inherit') map.delete(grantKey(g));
    else map.set(grantKey(g), g);
    ownAfter.set(change.roleId, map);
  }
  // Along the chain from the root down, a role's own grant or revoke overrides what it inherits.
  const effective = (
    roleId: string,
    parentOf: ReadonlyMap<string, string | null>,
    grantsOf: ReadonlyMap<string, ReadonlyMap<string, GrantView>>,
  ): Map<string, GrantView> => {
    const merged = new Map<string, GrantView>();
    for (const id of chainOf(roleId, parentOf).reverse())
      for (const [k, g] of grantsOf.get(id) ?? []) merged.set(k, g);
    for (const [k, g] of merged) if (g.effect !== 'grant') merged.delete(k);
    return merged;
  };
  const touched = new Map<string, GrantView>();
  for (const roleId of affected) {
    const before = effective(roleId, parent, own);
    const after = effective(roleId, parentAfter, ownAfter);
    for (const [k, g] of after) if (!before.has(k)) touched.set(k, g);
    for (const [k, g] of before) if (!after.has(k)) touched.set(k, g);
  }
  return [...touched.values()];
};
