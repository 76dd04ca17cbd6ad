// Authentication policies: which evidences a principal's sessions must hold before anything but
// adding evidence, logging out and reading the session itself is allowed (MFA, or location), and
// which evidences an elevation must present. A policy is set on a principal or on a role (it then
// applies to the role's members); what applies is the union of them all.
// - Scenario 2, password only from a subnet: require [knowledge, location] on the principal.
// - Scenario 6, a service from a subnet with no other credential: require [location]; its
//   subnet credential alone proves it.
// Without any policy a session needs at least one evidence (whatever proved the principal).

import { roleExists, rolesHeldBy } from '../../projections/authz.ts';
import { getPrincipal } from '../../projections/principals.ts';
import {
  listAuthPolicies,
  type PolicyRecord,
  type PolicyScope,
  policiesApplyingTo,
} from '../../projections/sessions.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireDominates, requireDominatesMembers } from '../authz/conferral.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError, invalid } from '../errors.ts';
import type { EventPayload } from '../events/catalogue.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { MANAGE_PRINCIPALS } from './principals.ts';

type EvidenceKind = EventPayload<'AuthPolicySet'>['require'][number];

export type { PolicyScope };

const EVIDENCES: readonly EvidenceKind[] = [
  'knowledge',
  'ownership',
  'location',
  'trust',
  'inherence',
];
/** Elevation asks for a password confirmation unless a policy says otherwise. */
export const DEFAULT_ELEVATION: readonly EvidenceKind[] = ['knowledge'];

/** The principal's own policy and those of the live roles it is granted. */
const policiesOf = (read: Reader, principalId: string) =>
  policiesApplyingTo(read, principalId, rolesHeldBy(read, [principalId]));

const union = (lists: readonly (readonly string[])[]): string[] =>
  [...new Set(lists.flat())].sort();

/** Evidences a session of this principal must hold to be complete. */
export const requiredEvidences = (read: Reader, principalId: string): string[] =>
  union(policiesOf(read, principalId).map((p) => p.require));

/** Evidences an elevation of this principal must present. */
export const elevationEvidences = (read: Reader, principalId: string): string[] => {
  const u = union(policiesOf(read, principalId).map((p) => p.elevate));
  return u.length > 0 ? u : [...DEFAULT_ELEVATION];
};

/**
 * What an elevation step lacks, given the proofs it presented. The default (no policy names
 * elevation evidences: a password confirmation) is also met by one multi-factor authenticator: a
 * passkey that verified its user proves `ownership` and `inherence` at once (NIST SP 800-63B rev 4
 * section 5.1.9, multi-factor cryptographic authenticators), so a principal without a password
 * can elevate too. A policy that names evidences gets exactly those.
 */
export const elevationLacks = (
  read: Reader,
  principalId: string,
  proofs: readonly { readonly evidences: readonly string[] }[],
): string[] => {
  const named = union(policiesOf(read, principalId).map((p) => p.elevate));
  const multiFactor = proofs.some(
    (p) => p.evidences.includes('ownership') && p.evidences.includes('inherence'),
  );
  if (named.length === 0 && multiFactor) return [];
  const proven = new Set(proofs.flatMap((p) => p.evidences));
  return (named.length > 0 ? named : [...DEFAULT_ELEVATION]).filter((e) => !proven.has(e));
};

/** Both lists from one query: the session lookup needs them on every request (a session whose
 * elevation needs `location` is elevated only where that location holds, see sessions.ts). */
export const policyOf = (
  read: Reader,
  principalId: string,
): { readonly require: string[]; readonly elevate: string[] } => {
  const rows = policiesOf(read, principalId);
  const elevate = union(rows.map((p) => p.elevate));
  return {
    require: union(rows.map((p) => p.require)),
    elevate: elevate.length > 0 ? elevate : [...DEFAULT_ELEVATION],
  };
};

export type PolicyView = PolicyRecord;

export const listPolicies = (read: Reader): PolicyView[] => listAuthPolicies(read);

const evidences = (field: string, raw: readonly string[]): EvidenceKind[] => {
  for (const e of raw)
    if (!EVIDENCES.includes(e as EvidenceKind))
      throw invalid(field, `${e} is not one of ${EVIDENCES.join(', ')}`);
  return [...new Set(raw as EvidenceKind[])].sort();
};

export const setAuthPolicy = (input: {
  scope: PolicyScope;
  subjectId: string;
  require: readonly string[];
  elevate?: readonly string[];
}): Command<PolicyView> => ({
  name: 'SetAuthPolicy',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    requireElevation(meta);
    if (input.scope === 'principal') {
      const p = getPrincipal(state, input.subjectId);
      if (!p || p.deleted)
        throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${input.subjectId}`);
    } else if (!roleExists(state, input.subjectId))
      throw new AppError('ROLE_NOT_FOUND', `no role ${input.subjectId}`);
    // Relaxed, a policy lets weaker sessions act as its principals; tightened, it can lock them
    // out: either way only someone who holds all they hold may set it (src/authz/conferral.ts).
    const holders =
      input.scope === 'principal'
        ? requireDominates(state, meta, input.subjectId)
        : requireDominatesMembers(state, meta, input.subjectId);
    const require = evidences('require', input.require);
    const elevate = evidences('elevate', input.elevate ?? []);
    return {
      events: [
        {
          type: 'AuthPolicySet',
          data: { scope: input.scope, subjectId: input.subjectId, require, elevate },
        },
      ],
      result: { scope: input.scope, subjectId: input.subjectId, require, elevate },
      authority: [...manage, ...holders],
    };
  },
});
