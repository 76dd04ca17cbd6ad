// The check engine (DESIGN.md section 8): allow/deny with the reason, evaluated against the
// current read model. Effective grants are computed per role (walking the acyclic effective
// parent chain) and per principal (its memberships plus those of `anonymous`), and cached until
// the read model's next commit, so a revocation takes effect at the next check.

import type { Reader } from '../src/readmodel/projection.ts';
import { grantsOf, type HeldRole, liveEffectiveParentOf, rolesCountingFor } from './authz.ts';
import { getPrincipal } from './principals.ts';

export const ADMIN_PRIVILEGE = 'authlog.admin';

export type Subject = {
  readonly principalId: string;
  /** Evidences the subject's session holds now; none for a check by principal alone. */
  readonly evidences?: ReadonlySet<string>;
};

export type CheckInput =
  | { readonly subject: Subject; readonly privilege: string }
  | {
      readonly subject: Subject;
      readonly resourceType: string;
      readonly action: string;
      readonly objectId?: string;
    };

export type CheckResult = {
  readonly allow: boolean;
  /** Human-readable: which role and grant allowed it, or why nothing did. */
  readonly reason: string;
  /** The subject's role through which access was granted. */
  readonly role?: string;
  /** The role (that role or an ancestor) whose grant it is. */
  readonly grantedBy?: string;
  /** Which grant of `grantedBy` allowed it: the asked privilege, a model or an object
   * permission, or the administrator privilege. */
  readonly grantKind?: GrantKind;
  readonly missingEvidences?: readonly string[];
};

export type GrantKind = 'privilege' | 'model' | 'object' | 'admin';

export type ObjectsResult =
  | { readonly all: true; readonly role: string }
  | { readonly all: false; readonly ids: readonly string[] };

type Grant = { readonly effect: string; readonly source: string };
type Closure = {
  readonly privileges: ReadonlyMap<string, Grant>;
  readonly model: ReadonlyMap<string, Grant>;
  readonly objects: ReadonlyMap<string, ReadonlyMap<string, Grant>>;
};
type PrincipalState = {
  readonly live: boolean;
  readonly roles: readonly HeldRole[];
  /** The roles that require no evidence: they count for every subject, whatever it holds. */
  readonly open: readonly string[];
};
type Eligible = {
  readonly live: boolean;
  readonly counted: readonly string[];
  readonly gated: readonly { roleId: string; missing: string[] }[];
};

const EMPTY: Closure = { privileges: new Map(), model: new Map(), objects: new Map() };
const NONE: Eligible['gated'] = [];

export type Authz = {
  check(input: CheckInput): CheckResult;
  objects(subject: Subject, resourceType: string, action: string): ObjectsResult;
};

export const createAuthz = (read: Reader, version: () => number): Authz => {
  let cachedAt = -1;
  const closures = new Map<string, Closure>();
  const principals = new Map<string, PrincipalState>();

  const fresh = () => {
    const v = version();
    if (v !== cachedAt) {
      closures.clear();
      principals.clear();
      cachedAt = v;
    }
  };

  const closure = (roleId: string): Closure => {
    const hit = closures.get(roleId);
    if (hit) return hit;
    // Collect the chain up to the nearest cached ancestor (iteratively: chains may be deep).
    const chain: string[] = [];
    let base: Closure = EMPTY;
    for (let id: string | null = roleId; id !== null; ) {
      const cached = closures.get(id);
      if (cached) {
        base = cached;
        break;
      }
      chain.push(id);
      id = liveEffectiveParentOf(read, id);
    }
    for (const id of chain.reverse()) {
      const privileges = new Map(base.privileges);
      const model = new Map(base.model);
      const objects = new Map(base.objects);
      for (const g of grantsOf(read, id)) {
        const grant = { effect: g.effect, source: id };
        if (g.scope === 'privilege') privileges.set(g.name, grant);
        else if (g.scope === 'model') model.set(g.name, grant);
        else {
          const byId = new Map(objects.get(g.name));
          byId.set(g.objectId, grant);
          objects.set(g.name, byId);
        }
      }
      base = { privileges, model, objects };
      closures.set(id, base);
    }
    return base;
  };

  const principal = (principalId: string): PrincipalState => {
    const hit = principals.get(principalId);
    if (hit) return hit;
    const p = getPrincipal(read, principalId);
    const live = p?.active === true && !p.deleted;
    const roles = live ? rolesCountingFor(read, principalId) : [];
    const open = roles.filter((r) => r.required.length === 0).map((r) => r.roleId);
    const state = { live, roles, open };
    principals.set(principalId, state);
    return state;
  };

  /** Roles that count for the subject, and the evidences the others lack. */
  const eligible = (subject: Subject): Eligible => {
    const p = principal(subject.principalId);
    // The usual case, without a copy per check: no role of the principal asks for evidence.
    if (p.open.length === p.roles.length) return { live: p.live, counted: p.open, gated: NONE };
    const counted: string[] = [];
    const gated: { roleId: string; missing: string[] }[] = [];
    for (const r of p.roles) {
      const missing = r.required.filter((e) => !subject.evidences?.has(e));
      if (missing.length === 0) counted.push(r.roleId);
      else gated.push({ roleId: r.roleId, missing });
    }
    return { live: p.live, counted, gated };
  };

  const admin = (roleId: string): Grant | undefined => {
    const g = closure(roleId).privileges.get(ADMIN_PRIVILEGE);
    return g?.effect === 'grant' ? g : undefined;
  };

  const allows = (
    roleId: string,
    input: CheckInput,
    /** `type:action`, the key of model and object grants (made once per check). */
    ta: string,
  ): { grant: Grant; kind: GrantKind; what: string } | undefined => {
    const c = closure(roleId);
    if ('privilege' in input) {
      const g = c.privileges.get(input.privilege);
      if (g?.effect === 'grant')
        return { grant: g, kind: 'privilege', what: `privilege ${input.privilege}` };
    } else {
      const model = c.model.get(ta);
      // A model permission takes priority over object permissions, both ways.
      if (model?.effect === 'grant')
        return {
          grant: model,
          kind: 'model',
          what: `${input.action} on every ${input.resourceType}`,
        };
      if (model?.effect !== 'revoke' && input.objectId !== undefined) {
        const g = c.objects.get(ta)?.get(input.objectId);
        if (g?.effect === 'grant')
          return {
            grant: g,
            kind: 'object',
            what: `${input.action} on ${input.resourceType} ${input.objectId}`,
          };
      }
    }
    const a = admin(roleId);
    return a ? { grant: a, kind: 'admin', what: ADMIN_PRIVILEGE } : undefined;
  };

  return {
    check(input) {
      fresh();
      const { live, counted, gated } = eligible(input.subject);
      if (!live) return { allow: false, reason: 'the principal is unknown, inactive or deleted' };
      const ta = 'privilege' in input ? '' : `${input.resourceType}:${input.action}`;
      for (const roleId of counted) {
        const hit = allows(roleId, input, ta);
        if (hit) {
          const via = hit.grant.source === roleId ? '' : ` (inherited from ${hit.grant.source})`;
          return {
            allow: true,
            reason: `role ${roleId} grants ${hit.what}${via}`,
            role: roleId,
            grantedBy: hit.grant.source,
            grantKind: hit.kind,
          };
        }
      }
      for (const { roleId, missing } of gated) {
        if (allows(roleId, input, ta)) {
          return {
            allow: false,
            reason: `role ${roleId} would allow it, but the session lacks evidence: ${missing.join(', ')}`,
            role: roleId,
            missingEvidences: missing,
          };
        }
      }
      return {
        allow: false,
        reason:
          counted.length === 0
            ? 'the principal holds no role'
            : 'no role of the principal grants it',
      };
    },

    objects(subject, resourceType, action) {
      fresh();
      const { live, counted } = eligible(subject);
      if (!live) return { all: false, ids: [] };
      const ta = `${resourceType}:${action}`;
      const ids = new Set<string>();
      for (const roleId of counted) {
        const c = closure(roleId);
        const model = c.model.get(ta);
        if (model?.effect === 'grant' || admin(roleId)) return { all: true, role: roleId };
        if (model?.effect === 'revoke') continue;
        for (const [id, g] of c.objects.get(ta) ?? []) if (g.effect === 'grant') ids.add(id);
      }
      return { all: false, ids: [...ids].sort() };
    },
  };
};
