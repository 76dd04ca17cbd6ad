// Questions asked of a replayed read model ("as of" a point in time): who held a role or a
// privilege, and what a principal could do. Answered by the same authorization engine that
// answers live checks, so the replay says what a check would have said then.
//
// A check by principal has no session, so roles of directories that require evidence (e.g. OTP)
// do not count by themselves; such holdings are listed with the evidence they needed.

import {
  getRole,
  listResourceTypes,
  liveMembershipsOf,
  membersOf,
  principalsWithMemberships,
  privilegeNames,
  roleNamed,
} from '../../projections/authz.ts';
import { type CheckInput, type CheckResult, createAuthz } from '../../projections/authz-engine.ts';
import { ANONYMOUS, getPrincipal } from '../../projections/principals.ts';
import type { Reader } from '../readmodel/projection.ts';

export type Holding = {
  readonly principalId: string;
  /** Why: the role and grant, or the evidence a session would have needed. */
  readonly reason: string;
  readonly needsEvidence?: readonly string[];
};

export type WhoHolds =
  | {
      readonly kind: 'role';
      readonly role: string;
      readonly exists: boolean;
      readonly deleted: boolean;
      /** Direct members (a member of a child role inherits the grants, not the role). */
      readonly members: readonly { principalId: string; active: boolean }[];
      readonly everyone: boolean;
    }
  | {
      readonly kind: 'privilege';
      readonly privilege: string;
      readonly holders: readonly Holding[];
      /** Granted to `anonymous`: every principal, signed in or not. */
      readonly everyone: boolean;
    };

export type Capabilities = {
  readonly principalId: string;
  readonly exists: boolean;
  readonly active: boolean;
  readonly roles: readonly string[];
  readonly privileges: readonly (Holding & { readonly privilege: string })[];
  readonly permissions: readonly {
    readonly resourceType: string;
    readonly action: string;
    /** Every object of the type (a model permission), or only these ids. */
    readonly all: boolean;
    readonly objects: readonly string[];
    readonly reason: string;
    readonly needsEvidence?: readonly string[];
  }[];
};

const holding = (principalId: string, r: CheckResult): Holding | undefined => {
  if (r.allow) return { principalId, reason: r.reason };
  if (r.missingEvidences && r.missingEvidences.length > 0)
    return { principalId, reason: r.reason, needsEvidence: r.missingEvidences };
  return undefined;
};

const live = (read: Reader, principalId: string) => {
  const p = getPrincipal(read, principalId);
  return { exists: p !== undefined, active: p?.active === true && !p.deleted };
};

/** `target`: `role:<id or name>` or `privilege:<name>`. */
export const whoHolds = (read: Reader, target: string): WhoHolds => {
  const authz = createAuthz(read, () => 0);
  if (target.startsWith('role:')) {
    const ref = target.slice('role:'.length);
    const byName = roleNamed(read, ref);
    const role = getRole(read, ref) ?? (byName ? getRole(read, byName) : undefined);
    const members = role
      ? membersOf(read, role.id).map((principalId) => ({
          principalId,
          active: live(read, principalId).active,
        }))
      : [];
    return {
      kind: 'role',
      role: role?.id ?? ref,
      exists: role !== undefined,
      deleted: role?.deleted ?? false,
      members: role?.deleted ? [] : members,
      everyone: !role?.deleted && members.some((m) => m.principalId === ANONYMOUS),
    };
  }
  if (!target.startsWith('privilege:'))
    throw new RangeError('--who-holds takes role:<id or name> or privilege:<name>');
  const privilege = target.slice('privilege:'.length);
  // Only principals with a membership can hold anything (besides what anonymous holds).
  const candidates = principalsWithMemberships(read);
  const holders: Holding[] = [];
  for (const principalId of candidates) {
    const h = holding(principalId, authz.check({ subject: { principalId }, privilege }));
    if (h) holders.push(h);
  }
  return {
    kind: 'privilege',
    privilege,
    holders,
    everyone: holders.some((h) => h.principalId === ANONYMOUS && h.needsEvidence === undefined),
  };
};

/** Everything `principalId` could do: privileges, and actions on resource types and objects. */
export const capabilities = (read: Reader, principalId: string): Capabilities => {
  const authz = createAuthz(read, () => 0);
  const subject = { principalId };
  const { exists, active } = live(read, principalId);
  const roles = liveMembershipsOf(read, [principalId, ANONYMOUS]);
  const privileges: (Holding & { privilege: string })[] = [];
  for (const privilege of privilegeNames(read)) {
    const h = holding(principalId, authz.check({ subject, privilege }));
    if (h) privileges.push({ ...h, privilege });
  }
  const permissions: Capabilities['permissions'][number][] = [];
  for (const { name: resourceType, actions } of listResourceTypes(read)) {
    for (const action of actions) {
      const input: CheckInput = { subject, resourceType, action };
      const model = authz.check(input);
      if (model.allow) {
        permissions.push({ resourceType, action, all: true, objects: [], reason: model.reason });
        continue;
      }
      const objects = authz.objects(subject, resourceType, action);
      if (!objects.all && objects.ids.length > 0)
        permissions.push({
          resourceType,
          action,
          all: false,
          objects: objects.ids,
          reason: 'object permissions',
        });
      else if (model.missingEvidences && model.missingEvidences.length > 0)
        permissions.push({
          resourceType,
          action,
          all: true,
          objects: [],
          reason: model.reason,
          needsEvidence: model.missingEvidences,
        });
    }
  }
  return { principalId, exists, active, roles, privileges, permissions };
};
