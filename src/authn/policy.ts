// Authentication policies: which evidences a principal's sessions must hold before anything but
// adding evidence, logging out and reading the session itself is allowed (MFA, or location), and
// which evidences an elevation must present. A policy is set on a principal or on a role (it then
// applies to the role's members); what applies is the union of them all.
// - Scenario 2, password only from a subnet: require [knowledge, location] on the principal.
// - Scenario 6, a service from a subnet with no other credential: require [location]; its
//   subnet credential alone proves it.
// Without any policy a session needs at least one evidence (whatever proved the principal).

import { getPrincipal } from '../../projections/principals.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireDominates, requireDominatesMembers } from '../authz/conferral.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError, invalid } from '../errors.ts';
import type { EventPayload } from '../events/catalogue.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { MANAGE_PRINCIPALS } from './principals.ts';

type EvidenceKind = EventPayload<'AuthPolicySet'>['require'][number];
export type PolicyScope = EventPayload<'AuthPolicySet'>['scope'];

const EVIDENCES: readonly EvidenceKind[] = [
  'knowledge',
  'ownership',
  'location',
  'trust',
  'inherence',
];
/** Elevation asks for a password confirmation unless a policy says otherwise. */
export const DEFAULT_ELEVATION: readonly EvidenceKind[] = ['knowledge'];

const policyRows = (read: Reader, principalId: string) =>
  read.all(
    `SELECT require, elevate FROM auth_policies WHERE scope = 'principal' AND subject_id = ?
     UNION ALL
     SELECT a.require, a.elevate FROM auth_policies a
       JOIN memberships m ON m.role_id = a.subject_id AND m.granted = 1
       JOIN roles r ON r.id = a.subject_id AND r.deleted = 0
     WHERE a.scope = 'role' AND m.principal_id = ?`,
    principalId,
    principalId,
  );

const union = (rows: readonly string[]): string[] =>
  [...new Set(rows.flatMap((r) => JSON.parse(r) as string[]))].sort();

/** Evidences a session of this principal must hold to be complete. */
export const requiredEvidences = (read: Reader, principalId: string): string[] =>
  union(policyRows(read, principalId).map((r) => String(r.require)));

/** Evidences an elevation of this principal must present. */
export const elevationEvidences = (read: Reader, principalId: string): string[] => {
  const u = union(policyRows(read, principalId).map((r) => String(r.elevate)));
  return u.length > 0 ? u : [...DEFAULT_ELEVATION];
};

/** Both lists from one query: the session lookup needs them on every request (a session whose
 * elevation needs `location` is elevated only where that location holds, see sessions.ts). */
export const policyOf = (
  read: Reader,
  principalId: string,
): { readonly require: string[]; readonly elevate: string[] } => {
  const rows = policyRows(read, principalId);
  const elevate = union(rows.map((r) => String(r.elevate)));
  return {
    require: union(rows.map((r) => String(r.require))),
    elevate: elevate.length > 0 ? elevate : [...DEFAULT_ELEVATION],
  };
};

export type PolicyView = {
  readonly scope: PolicyScope;
  readonly subjectId: string;
  readonly require: string[];
  readonly elevate: string[];
};

export const listPolicies = (read: Reader): PolicyView[] =>
  read
    .all('SELECT scope, subject_id, require, elevate FROM auth_policies ORDER BY scope, subject_id')
    .map((r) => ({
      scope: String(r.scope) as PolicyScope,
      subjectId: String(r.subject_id),
      require: JSON.parse(String(r.require)) as string[],
      elevate: JSON.parse(String(r.elevate)) as string[],
    }));

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
    } else if (!state.get('SELECT 1 AS x FROM roles WHERE id = ? AND deleted = 0', input.subjectId))
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
