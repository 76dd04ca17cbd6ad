// Administration is itself authorized: a command checks that its actor holds the privilege for
// what it does, in the state it decides against. `system` (the node operator) may do anything.

import { effectiveParentOf } from '../../projections/authz.ts';
import { ADMIN_PRIVILEGE, createAuthz, type GrantKind } from '../../projections/authz-engine.ts';
import { AppError } from '../errors.ts';
import { MAX_INHERITANCE, SYSTEM_ACTOR } from '../events/envelope.ts';
import type { Authority, CommandMeta } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';

export type Target =
  | { readonly privilege: string }
  | { readonly resourceType: string; readonly action: string; readonly objectId?: string };

/** Throws FORBIDDEN unless the actor may do `what`; returns the grant that allowed it (none for
 * `system`), which the command returns in its decision's `authority`. A fresh engine: decisions
 * see uncommitted state of the batch they are in, so nothing may be cached across them. */
export const requireAccess = (state: Reader, meta: CommandMeta, what: Target): Authority =>
  accessChecker(state, meta)(what);

/** `requireAccess` for several targets against one engine (its closures are computed once). */
export const accessChecker = (state: Reader, meta: CommandMeta): ((what: Target) => Authority) => {
  if (meta.actor === SYSTEM_ACTOR) return () => [];
  const subject = {
    principalId: meta.actor,
    ...(meta.evidences ? { evidences: meta.evidences } : {}),
  };
  const engine = createAuthz(state, () => 0);
  return (what) => {
    const result = engine.check({ ...what, subject });
    if (!result.allow) {
      const target =
        'privilege' in what
          ? what.privilege
          : `${what.action} on ${what.resourceType}${what.objectId === undefined ? '' : ` ${what.objectId}`}`;
      throw new AppError('FORBIDDEN', `${meta.actor} lacks ${target}: ${result.reason}`, {
        privilege: target,
      });
    }
    if (result.role === undefined || result.grantedBy === undefined || !result.grantKind) return [];
    const between = inheritedThrough(state, result.role, result.grantedBy);
    return [
      {
        role: result.role,
        grantedBy: result.grantedBy,
        grant: grantKey(what, result.grantKind),
        ...(between.length > 0 ? { between } : {}),
      },
    ];
  };
};

/** The roles strictly between `role` and its ancestor `grantedBy` (effective parents, nearest
 * first): a grant inherited through them is lost when one of their parents changes. */
const inheritedThrough = (state: Reader, role: string, grantedBy: string): string[] => {
  const between: string[] = [];
  let id = role;
  while (id !== grantedBy) {
    const parent = effectiveParentOf(state, id);
    // No way up (or deeper than an event records): the grant is kept without its path.
    if (parent === null) return [];
    if (parent !== grantedBy) {
      if (between.length === MAX_INHERITANCE) return [];
      between.push(parent);
    }
    id = parent;
  }
  return between;
};

/** The key of the grant that allowed `what`, as revocations name it (projections/authority.ts). */
export const grantKey = (what: Target, kind: GrantKind): string => {
  if (kind === 'admin') return `privilege:${ADMIN_PRIVILEGE}`;
  if ('privilege' in what) return `privilege:${what.privilege}`;
  if (kind === 'object' && what.objectId !== undefined)
    return `object:${what.resourceType}:${what.action}:${what.objectId}`;
  return `model:${what.resourceType}:${what.action}`;
};

export const requirePrivilege = (state: Reader, meta: CommandMeta, privilege: string): Authority =>
  requireAccess(state, meta, { privilege });
