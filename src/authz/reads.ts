// Least privilege for reads (issue 14 item 4; OWASP ASVS 5.0 V8.2.1/V8.2.2: access to data by
// the user's own permissions, no access to other users' records; NIST SP 800-53 AC-6). Reading
// principals, their contact data, sessions, lockout and credentials (never secrets), directories,
// policies, roles and members, or another principal's permissions needs a read privilege or being
// that principal: a principal with no role sees itself only, and a replication peer, which holds
// `authlog.replicate` alone, reads the feed and nothing else. Administrators hold every one of
// them through `authlog.admin`.

import type { Authz } from '../../projections/authz-engine.ts';
import { AppError } from '../errors.ts';
import { SYSTEM_ACTOR } from '../events/envelope.ts';

/** Principals with contact data and identities, their sessions, lockout and credential lists,
 * identity and credential directories, authentication policies. */
export const READ_PRINCIPALS = 'authlog.principals.read';
/** Roles with their grants and members. */
export const READ_ROLES = 'authlog.roles.read';
/** Ask whether any principal or session may do something, and list its objects (resource
 * servers); a principal may always ask about itself. */
export const CHECK_ANY = 'authlog.authz.check';
/** This node's status and digest, and the conflicts the convergence rules settled. */
export const READ_NODE = 'authlog.node.read';

/** Managing a thing includes reading it (as Keycloak's manage-users includes view-users). */
const IMPLIED_BY: Readonly<Record<string, string>> = {
  [READ_PRINCIPALS]: 'authlog.principals.manage',
  [READ_ROLES]: 'authlog.roles.manage',
};

/** Who reads: the authenticated actor and the evidences its session holds now. */
export type ReaderIdentity = {
  readonly actor: string;
  readonly evidences?: ReadonlySet<string>;
};

/** Throws FORBIDDEN unless the reader is `self` or holds `privilege`. Decided before anything is
 * looked up, so a refusal says nothing about whether the thing exists. `authz` is the node's
 * cached engine: a read records no authority, and the check routes stay a cached lookup. */
export const requireRead = (
  authz: Authz,
  who: ReaderIdentity,
  privilege: string,
  self?: string,
): void => {
  if (who.actor === SYSTEM_ACTOR || (self !== undefined && who.actor === self)) return;
  const subject = {
    principalId: who.actor,
    ...(who.evidences ? { evidences: who.evidences } : {}),
  };
  const r = authz.check({ subject, privilege });
  if (r.allow) return;
  const manage = IMPLIED_BY[privilege];
  if (manage === undefined || !authz.check({ subject, privilege: manage }).allow)
    throw new AppError('FORBIDDEN', `${who.actor} lacks ${privilege}: ${r.reason}`, { privilege });
};

export const mayRead = (authz: Authz, who: ReaderIdentity, privilege: string): boolean => {
  try {
    requireRead(authz, who, privilege);
    return true;
  } catch (err) {
    if (err instanceof AppError && err.code === 'FORBIDDEN') return false;
    throw err;
  }
};
