// Commands that administer authorization. Each is authorized (authlog.roles.manage) against the
// state it decides on, and nobody hands out what they do not hold: a change that widens what any
// principal may do (a grant, a role's parent, a membership) requires the actor to hold every grant
// it confers, computed over the role graph by one function (src/authz/conferral.ts). Changes that
// take grants away (revoking, removing a member, deleting a role) are lock-out vectors and need the
// same: nobody takes away what they could not hand out. All but naming need an elevated session.
import {
  ADMINISTRATORS_ROLE,
  DEFAULT_ROLE_DIRECTORY,
  type Effect,
  type ExternalRolesSettings,
  effectiveGrants,
  getRole,
  isMember,
  privilegeDescription,
  type RoleView,
  resourceTypeActions,
  roleDirectory,
  roleDirectoryHolding,
  roleHolding,
} from '../../projections/authz.ts';
import { ADMIN_PRIVILEGE } from '../../projections/authz-engine.ts';
import { ldapSettingsOf } from '../../projections/credentials.ts';
import { getPrincipal } from '../../projections/principals.ts';
import { AppError, invalid } from '../errors.ts';
import type { DomainEvent } from '../events/catalogue.ts';
import * as normalize from '../events/normalize.ts';
import type { Command, CommandMeta } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { requireAccess, requirePrivilege } from './admin.ts';
import {
  requireHoldsAll,
  requireMayChooseId,
  roleChangeTouches,
  targetOfGrant,
} from './conferral.ts';
import { requireElevation } from './elevation.ts';

export const MANAGE_ROLES = 'authlog.roles.manage';
export const DEFAULT_ACTIONS = ['select', 'create', 'update', 'delete'];
const NAME = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;
const ACTION = /^[a-z][a-z0-9_-]*$/;

const dotted = (field: string, value: string, max: number): string => {
  if (value.length > max || !NAME.test(value))
    throw invalid(field, 'must be lowercase words separated by dots, like billing.invoice');
  return value;
};

const liveRole = (state: Reader, roleId: string): RoleView => {
  const r = getRole(state, roleId);
  if (!r) throw new AppError('ROLE_NOT_FOUND', `no role ${roleId}`, { roleId });
  if (r.deleted) throw new AppError('ROLE_DELETED', `role ${roleId} is deleted`, { roleId });
  return r;
};

/** The would-be parent must exist and must not have `roleId` among its ancestors. */
const checkParent = (state: Reader, roleId: string, parentId: string | null): void => {
  if (parentId === null) return;
  liveRole(state, parentId);
  const seen = new Set<string>();
  for (
    let id: string | null = parentId;
    id !== null && !seen.has(id);
    id = getRole(state, id)?.effectiveParentId ?? null
  ) {
    if (id === roleId)
      throw new AppError('ROLE_CYCLE', `${parentId} descends from ${roleId}`, {
        field: 'parentId',
      });
    seen.add(id);
  }
};

export const definePrivilege = (input: {
  privilege: string;
  description?: string;
}): Command<{ privilege: string }> => ({
  name: 'DefinePrivilege',
  decide(state, meta) {
    const authority = requirePrivilege(state, meta, MANAGE_ROLES);
    const privilege = dotted('privilege', input.privilege, 100);
    const description = normalize.text('description', input.description ?? '', 1000, {
      optional: true,
    });
    if (privilegeDescription(state, privilege) === description)
      return { events: [], result: { privilege } };
    return {
      events: [{ type: 'PrivilegeDefined', data: { privilege, description } }],
      result: { privilege },
      authority,
    };
  },
});

export const defineResourceType = (input: {
  resourceType: string;
  actions?: readonly string[];
}): Command<{ resourceType: string; actions: string[] }> => ({
  name: 'DefineResourceType',
  decide(state, meta) {
    const authority = requirePrivilege(state, meta, MANAGE_ROLES);
    const resourceType = dotted('resourceType', input.resourceType, 100);
    const actions = [...new Set(input.actions ?? DEFAULT_ACTIONS)].sort();
    if (actions.length === 0 || actions.length > 64)
      throw invalid('actions', 'must list 1 to 64 actions');
    for (const a of actions)
      if (a.length > 50 || !ACTION.test(a))
        throw invalid('actions', `${JSON.stringify(a)} is not an action name`);
    const current = resourceTypeActions(state, resourceType);
    if (current && current.join() === actions.join())
      return { events: [], result: { resourceType, actions } };
    return {
      events: [{ type: 'ResourceTypeDefined', data: { resourceType, actions } }],
      result: { resourceType, actions },
      authority,
    };
  },
});

export const defineRoleDirectory = (input: {
  directoryId: string;
  name: string;
  requiredEvidences?: readonly string[];
  /** Memberships count only in sessions holding phishing-resistant evidence (a passkey). */
  phishingResistant?: boolean;
  /** The client chose `directoryId` (src/authz/conferral.ts `requireMayChooseId`). */
  idChosen?: boolean;
  /** Its memberships come from an LDAP directory's groups (read at login, refreshed). */
  external?: ExternalRolesSettings;
}): Command<{ directoryId: string }> => ({
  name: 'DefineRoleDirectory',
  decide(state, meta) {
    const authority = [
      ...requirePrivilege(state, meta, MANAGE_ROLES),
      ...(input.idChosen ? requireMayChooseId(state, meta) : []),
      // Whoever runs the directory decides who is in these roles: only an administrator,
      // elevated, may hand that over (as for the directory's connection, src/authn/credentials.ts).
      ...(input.external === undefined ? [] : requirePrivilege(state, meta, ADMIN_PRIVILEGE)),
    ];
    if (input.external !== undefined) {
      requireElevation(meta);
      if (ldapSettingsOf(state, input.external.credentialDirectoryId) === undefined)
        throw new AppError(
          'CREDENTIAL_DIRECTORY_NOT_FOUND',
          `no ldap directory ${input.external.credentialDirectoryId}`,
          { field: 'external.credentialDirectoryId' },
        );
    }
    const directoryId = normalize.id('directoryId', input.directoryId);
    if (roleDirectory(state, directoryId))
      throw new AppError('ID_TAKEN', `role directory ${directoryId} exists`);
    const { name, key } = normalize.identityName('name', input.name);
    if (roleDirectoryHolding(state, key))
      throw new AppError('ROLE_DIRECTORY_NAME_TAKEN', 'a role directory has this name', {
        field: 'name',
      });
    const evidences = ['knowledge', 'ownership', 'location', 'trust', 'inherence'] as const;
    const requiredEvidences = [...new Set(input.requiredEvidences ?? [])].map((e) => {
      const found = evidences.find((x) => x === e);
      if (!found)
        throw invalid(
          'requiredEvidences',
          `${JSON.stringify(e)} is not one of ${evidences.join(', ')}`,
        );
      return found;
    });
    return {
      events: [
        {
          type: 'RoleDirectoryDefined',
          data: {
            directoryId,
            name,
            key,
            requiredEvidences,
            ...(input.phishingResistant ? { phishingResistant: true } : {}),
            ...(input.external === undefined ? {} : { external: input.external }),
          },
        },
      ],
      result: { directoryId },
      authority,
    };
  },
});

export const createRole = (input: {
  roleId: string;
  name: string;
  directoryId?: string;
  parentId?: string | null;
  /** The client chose `roleId` (src/authz/conferral.ts `requireMayChooseId`). */
  idChosen?: boolean;
}): Command<{ roleId: string }> => ({
  name: 'CreateRole',
  decide(state, meta) {
    const authority = [
      ...requirePrivilege(state, meta, MANAGE_ROLES),
      ...(input.idChosen ? requireMayChooseId(state, meta) : []),
    ];
    const roleId = normalize.id('roleId', input.roleId);
    if (getRole(state, roleId)) throw new AppError('ID_TAKEN', `role id ${roleId} is in use`);
    const directoryId = input.directoryId ?? DEFAULT_ROLE_DIRECTORY;
    if (!roleDirectory(state, directoryId))
      throw new AppError('ROLE_DIRECTORY_NOT_FOUND', `no role directory ${directoryId}`, {
        field: 'directoryId',
      });
    const { name, key } = normalize.identityName('name', input.name);
    if (roleHolding(state, directoryId, key))
      throw new AppError('ROLE_NAME_TAKEN', `role name taken in ${directoryId}`, { field: 'name' });
    const parentId = input.parentId ?? null;
    // A new role has no descendants, so no parent can close a cycle through it.
    if (parentId !== null) liveRole(state, parentId);
    return {
      events: [{ type: 'RoleDefined', data: { roleId, directoryId, name, key, parentId } }],
      result: { roleId },
      authority,
    };
  },
});

export const updateRole = (input: {
  roleId: string;
  name?: string;
  parentId?: string | null;
}): Command<{ changed: string[] }> => ({
  name: 'UpdateRole',
  decide(state, meta) {
    let authority = requirePrivilege(state, meta, MANAGE_ROLES);
    const role = liveRole(state, input.roleId);
    if (role.id === ADMINISTRATORS_ROLE && input.parentId !== undefined)
      throw new AppError('ROLE_PROTECTED', 'the administrators role has no parent');
    const data: DomainEvent & { type: 'RoleChanged' } = {
      type: 'RoleChanged',
      data: { roleId: role.id },
    };
    if (input.name !== undefined) {
      const { name, key } = normalize.identityName('name', input.name);
      const holder = roleHolding(state, role.directoryId, key);
      if (holder !== undefined && holder !== role.id)
        throw new AppError('ROLE_NAME_TAKEN', `role name taken in ${role.directoryId}`, {
          field: 'name',
        });
      if (name !== role.name) Object.assign(data.data, { name, key });
    }
    if (input.parentId !== undefined && input.parentId !== role.parentId) {
      if (input.parentId === role.id)
        throw new AppError('ROLE_CYCLE', 'a role cannot be its own parent', { field: 'parentId' });
      checkParent(state, role.id, input.parentId);
      // A new parent hands its grants to the role and every role below it, and the old one's go
      // (issue 14 row 1: a roles.manage holder made its own role a child of administrators).
      requireElevation(meta);
      authority = [
        ...authority,
        ...requireHoldsAll(
          state,
          meta,
          roleChangeTouches(state, { roleId: role.id, parentId: input.parentId }),
        ),
      ];
      Object.assign(data.data, { parentId: input.parentId });
    }
    const changed = Object.keys(data.data).filter((k) => k !== 'roleId' && k !== 'key');
    return { events: changed.length > 0 ? [data] : [], result: { changed }, authority };
  },
});

export const deleteRole = (input: { roleId: string }): Command<{ deleted: boolean }> => ({
  name: 'DeleteRole',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_ROLES);
    const role = getRole(state, input.roleId);
    if (!role) throw new AppError('ROLE_NOT_FOUND', `no role ${input.roleId}`);
    if (role.id === ADMINISTRATORS_ROLE)
      throw new AppError('ROLE_PROTECTED', 'the administrators role is built in');
    if (role.deleted) return { events: [], result: { deleted: true } };
    // Its members lose everything it holds: only someone who could hand that out takes it away.
    requireElevation(meta);
    const holds = requireHoldsAll(state, meta, effectiveGrants(state, role.id));
    return {
      events: [{ type: 'RoleDeleted', data: { roleId: role.id } }],
      result: { deleted: true },
      authority: [...manage, ...holds],
    };
  },
});

export type GrantInput = { roleId: string; effect: Effect } & (
  | { privilege: string }
  | { resourceType: string; action: string; objectId?: string }
);

/** Sets the effect of a privilege, a model permission (no objectId) or an object permission. */
export const setGrant = (input: GrantInput): Command<{ effect: Effect }> => ({
  name: 'SetGrant',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_ROLES);
    requireElevation(meta);
    const role = liveRole(state, input.roleId);
    if (role.id === ADMINISTRATORS_ROLE)
      throw new AppError('ROLE_PROTECTED', 'the administrators role always holds authlog.admin');
    const { effect } = input;
    let event: DomainEvent;
    let grant: { scope: string; name: string; objectId: string };
    if ('privilege' in input) {
      if (privilegeDescription(state, input.privilege) === undefined)
        throw new AppError('PRIVILEGE_NOT_FOUND', `no privilege ${input.privilege}`, {
          field: 'privilege',
        });
      event = {
        type: 'RolePrivilegeSet',
        data: { roleId: role.id, privilege: input.privilege, effect },
      };
      grant = { scope: 'privilege', name: input.privilege, objectId: '' };
    } else {
      const actions = resourceTypeActions(state, input.resourceType);
      if (!actions)
        throw new AppError('RESOURCE_TYPE_NOT_FOUND', `no resource type ${input.resourceType}`, {
          field: 'resourceType',
        });
      if (!actions.includes(input.action))
        throw new AppError(
          'ACTION_NOT_FOUND',
          `${input.resourceType} has no action ${input.action}`,
          { field: 'action' },
        );
      const { resourceType, action } = input;
      if (input.objectId === undefined) {
        event = {
          type: 'RoleModelPermissionSet',
          data: { roleId: role.id, resourceType, action, effect },
        };
        grant = { scope: 'model', name: `${resourceType}:${action}`, objectId: '' };
      } else {
        const objectId = normalize.text('objectId', input.objectId, 200);
        event = {
          type: 'ObjectPermissionSet',
          data: { roleId: role.id, resourceType, action, objectId, effect },
        };
        grant = { scope: 'object', name: `${resourceType}:${action}`, objectId };
      }
    }
    // Nobody grants or revokes what they do not hold; `inherit` can widen too (it lifts a revoke
    // the role had over a grant of its parent) or narrow (it drops the role's own grant), so what
    // the new effect adds or takes, for the role and the roles below it, is checked for every one.
    const target = effect !== 'inherit' ? requireAccess(state, meta, targetOfGrant(grant)) : [];
    const holds = requireHoldsAll(
      state,
      meta,
      roleChangeTouches(state, { roleId: role.id, grant: { ...grant, effect } }),
    );
    return { events: [event], result: { effect }, authority: [...manage, ...target, ...holds] };
  },
});

const memberCommand =
  (kind: 'add' | 'remove') =>
  (input: { roleId: string; principalId: string }): Command<{ member: boolean }> => ({
    name: kind === 'add' ? 'AddRoleMember' : 'RemoveRoleMember',
    decide(state, meta: CommandMeta) {
      const manage = requirePrivilege(state, meta, MANAGE_ROLES);
      requireElevation(meta);
      const role = liveRole(state, input.roleId);
      if (roleDirectory(state, role.directoryId)?.external !== undefined)
        throw new AppError(
          'EXTERNAL_ROLE_DIRECTORY',
          `members of role ${role.id} are the members of its group in the external directory`,
        );
      const p = getPrincipal(state, input.principalId);
      if (!p)
        throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${input.principalId}`, {
          field: 'principalId',
        });
      const member = isMember(state, role.id, p.id);
      // A membership hands out (or takes away) everything the role holds: the actor must hold all
      // of it, either way.
      const mayChange = () => [
        ...manage,
        ...requireHoldsAll(state, meta, effectiveGrants(state, role.id)),
      ];
      if (kind === 'remove') {
        if (!member) return { events: [], result: { member: false } };
        const authority = mayChange();
        return {
          events: [{ type: 'RoleMembershipRevoked', data: { roleId: role.id, principalId: p.id } }],
          result: { member: false },
          authority,
        };
      }
      if (p.deleted) throw new AppError('PRINCIPAL_DELETED', `principal ${p.id} is deleted`);
      if (member) return { events: [], result: { member: true } };
      const authority = mayChange();
      return {
        events: [{ type: 'RoleMembershipGranted', data: { roleId: role.id, principalId: p.id } }],
        result: { member: true },
        authority,
      };
    },
  });

export const addRoleMember = memberCommand('add');
export const removeRoleMember = memberCommand('remove');
