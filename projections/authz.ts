// Authorization read model (DESIGN.md section 8). Effects of privileges, model and object
// permissions are restrictive registers (revoke over inherit over grant), memberships too
// (revoked over granted). Role names are unique claims within their directory; role parents are
// LWW edges resolved by the graph-edge rule (a cycle loses its newest edge, flagged).
import type { EventPayload } from '../src/events/catalogue.ts';
import type { Envelope } from '../src/events/envelope.ts';
import {
  type Derive,
  type Projection,
  type SqlRow,
  type Statement,
  sql,
} from '../src/readmodel/projection.ts';
import {
  type ClaimTable,
  claimRecompute,
  createOrMerge,
  duplicateCreation,
  earliestUpdate,
  type LwwRegister,
  lwwUpdate,
  resolveParentGraph,
  restrictiveValue,
  restrictiveWrite,
  terminalSet,
} from '../src/readmodel/registers.ts';
import { GENESIS_HLC } from './principals.ts';

export const DEFAULT_ROLE_DIRECTORY = 'default';
export const ADMINISTRATORS_ROLE = 'administrators';

/** Built-in privileges: every node starts with them, so administration can be authorized. */
export const BUILTIN_PRIVILEGES = {
  'authlog.admin': 'Everything: implies every other privilege and permission',
  'authlog.principals.manage': 'Create, change and delete principals and identities',
  'authlog.roles.manage': 'Define roles, privileges and resource types; grant and revoke',
  'authlog.replicate': 'Read the replication feed (peers)',
  'authlog.audit.read': 'Read the audit trail',
  'authlog.principals.read':
    'Read principals with contact data, identities, sessions, lockout and credential lists; directories and policies',
  'authlog.roles.read': 'Read roles with their grants and members',
  'authlog.authz.check': 'Ask what any principal or session may do (resource servers)',
  'authlog.node.read': "Read this node's status and digest, and the settled conflicts",
} as const;

export type Effect = 'grant' | 'inherit' | 'revoke';
export const EFFECT_RANK: Record<Effect, number> = { grant: 0, inherit: 1, revoke: 2 };

export const roleClaims: ClaimTable = {
  table: 'roles',
  idColumn: 'id',
  keyColumns: ['directory_id', 'key'],
  live: 'deleted = 0',
  hlcColumn: 'name_hlc',
  eventColumn: 'name_event',
  statusColumn: 'name_status',
};

export const roleDirectoryClaims: ClaimTable = {
  table: 'role_directories',
  idColumn: 'id',
  keyColumns: ['key'],
  live: '1',
  hlcColumn: 'name_hlc',
  eventColumn: 'name_event',
  statusColumn: 'name_status',
};

/** Grants of a role: one row per (scope, name, object) with the register's visible effect. */
export type GrantScope = 'privilege' | 'model' | 'object';
export const grantKey = (roleId: string, scope: GrantScope, name: string, objectId = ''): string =>
  `${roleId}/${scope}/${name}/${objectId}`;

const setGrant = (
  e: Pick<Envelope, 'origin' | 'seq' | 'hlc' | 'deps'>,
  roleId: string,
  scope: GrantScope,
  name: string,
  objectId: string,
  effect: Effect,
): Statement[] => {
  const key = grantKey(roleId, scope, name, objectId);
  return [
    ...restrictiveWrite('role.grant', key, e, effect, EFFECT_RANK[effect]),
    sql(
      `INSERT INTO role_grants (role_id, scope, name, object_id, effect)
       VALUES (?, ?, ?, ?, ${restrictiveValue('role.grant', '?', 'inherit')})
       ON CONFLICT (role_id, scope, name, object_id) DO UPDATE SET effect = excluded.effect`,
      roleId,
      scope,
      name,
      objectId,
      key,
    ),
  ];
};

const setMembership = (
  e: Envelope,
  p: EventPayload<'RoleMembershipGranted'>,
  value: 'granted' | 'revoked',
): Statement[] => {
  const key = `${p.roleId}/${p.principalId}`;
  return [
    ...restrictiveWrite('role.member', key, e, value, value === 'revoked' ? 1 : 0),
    sql(
      `INSERT INTO memberships (role_id, principal_id, granted)
       VALUES (?, ?, ${restrictiveValue('role.member', '?', 'revoked')} = 'granted')
       ON CONFLICT (role_id, principal_id) DO UPDATE SET granted = excluded.granted`,
      p.roleId,
      p.principalId,
      key,
    ),
  ];
};

/** Recomputes every role's effective parent from the current edges (after this event's writes). */
const recomputeGraph: Derive = {
  derive: (read) => {
    const rows = read.all(
      'SELECT id, parent_id, parent_hlc, deleted, effective_parent, parent_neutralised FROM roles',
    );
    const live = new Set(rows.filter((r) => Number(r.deleted) === 0).map((r) => String(r.id)));
    const edges = rows
      .filter((r) => live.has(String(r.id)))
      .map((r) => ({
        child: String(r.id),
        // An edge to a deleted (or unknown) role counts as no parent.
        parent: typeof r.parent_id === 'string' && live.has(r.parent_id) ? r.parent_id : null,
        hlc: String(r.parent_hlc),
      }));
    const { parentOf, neutralised } = resolveParentGraph(edges);
    const cut = new Set(neutralised);
    const out: Statement[] = [];
    for (const r of rows) {
      const id = String(r.id);
      const parent = parentOf.get(id) ?? null;
      const flag = cut.has(id) ? 1 : 0;
      if (r.effective_parent !== parent || Number(r.parent_neutralised) !== flag) {
        out.push(
          sql(
            'UPDATE roles SET effective_parent = ?, parent_neutralised = ? WHERE id = ?',
            parent,
            flag,
            id,
          ),
        );
      }
    }
    return out;
  },
};

const duplicate = (entity: string, id: string, before: SqlRow, e: Envelope): Statement =>
  duplicateCreation(
    entity,
    id,
    { hlc: before.created_hlc ?? null, origin: before.origin ?? null },
    e,
  );

/** Who first defined a user-named thing, and where: an earliest-wins register. */
const creation = (e: Envelope): LwwRegister => ({
  hlcColumn: 'created_hlc',
  values: { created_by: e.actor, origin: e.origin },
});

export const authz: Projection = {
  name: 'authz',
  ddl: [
    `CREATE TABLE privileges (
      name TEXT PRIMARY KEY, description TEXT NOT NULL, description_hlc TEXT,
      created_hlc TEXT, created_by TEXT, origin TEXT) WITHOUT ROWID`,
    `CREATE TABLE resource_types (
      name TEXT PRIMARY KEY, actions TEXT NOT NULL, actions_hlc TEXT,
      created_hlc TEXT, created_by TEXT, origin TEXT) WITHOUT ROWID`,
    `CREATE TABLE role_directories (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, key TEXT NOT NULL,
      name_hlc TEXT NOT NULL, name_event TEXT NOT NULL, name_status TEXT NOT NULL,
      required_evidences TEXT NOT NULL, evidences_hlc TEXT NOT NULL,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE roles (
      id TEXT PRIMARY KEY, directory_id TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
      name_hlc TEXT NOT NULL, name_event TEXT NOT NULL, name_status TEXT NOT NULL,
      parent_id TEXT, parent_hlc TEXT NOT NULL,
      effective_parent TEXT, parent_neutralised INTEGER NOT NULL DEFAULT 0,
      deleted INTEGER NOT NULL DEFAULT 0, deleted_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX roles_key ON roles (directory_id, key, name_hlc, name_event)',
    `CREATE TABLE role_grants (
      role_id TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL, object_id TEXT NOT NULL,
      effect TEXT NOT NULL, PRIMARY KEY (role_id, scope, name, object_id)) WITHOUT ROWID`,
    'CREATE INDEX role_grants_objects ON role_grants (scope, name, object_id)',
    `CREATE TABLE memberships (
      role_id TEXT NOT NULL, principal_id TEXT NOT NULL, granted INTEGER NOT NULL,
      PRIMARY KEY (role_id, principal_id)) WITHOUT ROWID`,
    'CREATE INDEX memberships_principal ON memberships (principal_id, granted)',
  ],
  seed: [
    ...Object.entries(BUILTIN_PRIVILEGES).map(([name, description]) =>
      sql(
        "INSERT INTO privileges VALUES (?, ?, ?, ?, 'system', 'genesis')",
        name,
        description,
        GENESIS_HLC,
        GENESIS_HLC,
      ),
    ),
    sql(
      `INSERT INTO role_directories VALUES (?, 'default', 'default', ?, '', 'held', '[]', ?, ?, 'system', 'genesis')`,
      DEFAULT_ROLE_DIRECTORY,
      GENESIS_HLC,
      GENESIS_HLC,
      GENESIS_HLC,
    ),
    sql(
      `INSERT INTO roles (id, directory_id, name, key, name_hlc, name_event, name_status, parent_id, parent_hlc,
         created_hlc, created_by, origin)
       VALUES (?, ?, 'administrators', 'administrators', ?, '', 'held', NULL, ?, ?, 'system', 'genesis')`,
      ADMINISTRATORS_ROLE,
      DEFAULT_ROLE_DIRECTORY,
      GENESIS_HLC,
      GENESIS_HLC,
      GENESIS_HLC,
    ),
    sql(
      "INSERT INTO role_grants VALUES (?, 'privilege', 'authlog.admin', '', 'grant')",
      ADMINISTRATORS_ROLE,
    ),
  ],
  conflicts: [
    `SELECT 'unique-role', 'role:' || r.directory_id || ':' || r.key, r.id,
       (SELECT w.id FROM roles w WHERE w.directory_id = r.directory_id AND w.key = r.key AND w.name_status = 'held'),
       r.name, r.name_hlc
     FROM roles r WHERE r.name_status = 'conflict'`,
    `SELECT 'unique-role-directory', 'role-directory:' || d.key, d.id,
       (SELECT w.id FROM role_directories w WHERE w.key = d.key AND w.name_status = 'held'),
       d.name, d.name_hlc
     FROM role_directories d WHERE d.name_status = 'conflict'`,
    `SELECT 'cycle-edge', 'role-parent', r.id, NULL, r.parent_id, r.parent_hlc
     FROM roles r WHERE r.parent_neutralised = 1`,
  ],
  handlers: {
    // Privileges and resource types are named by users, so two sites may define one at once:
    // the definition is an LWW register, who created it and when an earliest-wins one.
    PrivilegeDefined: (e) => [
      sql(
        "INSERT INTO privileges (name, description) VALUES (?, '') ON CONFLICT (name) DO NOTHING",
        e.data.privilege,
      ),
      lwwUpdate(
        'privileges',
        { name: e.data.privilege },
        [{ hlcColumn: 'description_hlc', values: { description: e.data.description } }],
        e.hlc,
      ),
      earliestUpdate('privileges', { name: e.data.privilege }, [creation(e)], e.hlc),
    ],
    ResourceTypeDefined: (e) => [
      sql(
        "INSERT INTO resource_types (name, actions) VALUES (?, '[]') ON CONFLICT (name) DO NOTHING",
        e.data.resourceType,
      ),
      lwwUpdate(
        'resource_types',
        { name: e.data.resourceType },
        [
          {
            hlcColumn: 'actions_hlc',
            values: { actions: JSON.stringify([...e.data.actions].sort()) },
          },
        ],
        e.hlc,
      ),
      earliestUpdate('resource_types', { name: e.data.resourceType }, [creation(e)], e.hlc),
    ],
    // Role directory and role ids may be client-chosen: a creation merges as register writes
    // (names and options LWW, creation facts earliest-wins), so arrival order does not matter.
    RoleDirectoryDefined: (e, read) => {
      const { directoryId, name, key } = e.data;
      const before = read.get(
        'SELECT key, created_hlc, origin FROM role_directories WHERE id = ?',
        directoryId,
      );
      const keys = new Set([before?.key, key].filter((k) => typeof k === 'string'));
      return [
        createOrMerge(
          {
            table: 'role_directories',
            key: { id: directoryId },
            lww: [
              { hlcColumn: 'name_hlc', values: { name, key, name_event: e.id } },
              {
                hlcColumn: 'evidences_hlc',
                values: {
                  required_evidences: JSON.stringify([...new Set(e.data.requiredEvidences)].sort()),
                },
              },
            ],
            earliest: [creation(e)],
            initial: { name_status: 'held' },
          },
          e.hlc,
        ),
        ...(before ? [duplicate('role-directory', directoryId, before, e)] : []),
        ...[...keys].map((k) => claimRecompute(roleDirectoryClaims, [k])),
      ];
    },
    RoleDirectoryChanged: (e) => [
      lwwUpdate(
        'role_directories',
        { id: e.data.directoryId },
        [
          {
            hlcColumn: 'evidences_hlc',
            values: {
              required_evidences: JSON.stringify([...new Set(e.data.requiredEvidences)].sort()),
            },
          },
        ],
        e.hlc,
      ),
    ],
    RoleDefined: (e, read) => {
      const { roleId, directoryId, name, key, parentId } = e.data;
      const before = read.get(
        'SELECT directory_id, key, created_hlc, origin FROM roles WHERE id = ?',
        roleId,
      );
      const merge = createOrMerge(
        {
          table: 'roles',
          key: { id: roleId },
          lww: [
            { hlcColumn: 'name_hlc', values: { name, key, name_event: e.id } },
            { hlcColumn: 'parent_hlc', values: { parent_id: parentId } },
          ],
          earliest: [
            { ...creation(e), values: { ...creation(e).values, directory_id: directoryId } },
          ],
          initial: { name_status: 'held' },
        },
        e.hlc,
      );
      if (!before)
        return [
          merge,
          claimRecompute(roleClaims, [directoryId, key]),
          // A new role cannot be on a cycle: no role can causally name it as parent yet. Its
          // effective parent is its parent, unless that was deleted concurrently.
          sql(
            'UPDATE roles SET effective_parent = (SELECT p.id FROM roles p WHERE p.id = ? AND p.deleted = 0) WHERE id = ?',
            parentId,
            roleId,
          ),
        ];
      // Created at two sites: the merged directory, name and parent are each one of the two.
      const dirs = new Set([before.directory_id, directoryId].map((d) => d ?? null));
      const keys = new Set([before.key, key].map((k) => k ?? null));
      return [
        merge,
        duplicate('role', roleId, before, e),
        ...[...dirs].flatMap((d) => [...keys].map((k) => claimRecompute(roleClaims, [d, k]))),
        recomputeGraph,
      ];
    },
    RoleChanged: (e, read) => {
      const { roleId, name, key, parentId } = e.data;
      const regs: LwwRegister[] = [];
      if (name !== undefined && key !== undefined)
        regs.push({ hlcColumn: 'name_hlc', values: { name, key, name_event: e.id } });
      if (parentId !== undefined)
        regs.push({ hlcColumn: 'parent_hlc', values: { parent_id: parentId } });
      if (regs.length === 0) return [];
      const before = read.get('SELECT directory_id, key FROM roles WHERE id = ?', roleId);
      const dir = before?.directory_id ?? null;
      const keys = new Set([before?.key, key].filter((k) => typeof k === 'string'));
      return [
        lwwUpdate('roles', { id: roleId }, regs, e.hlc),
        ...[...keys].map((k) => claimRecompute(roleClaims, [dir, k])),
        ...(parentId !== undefined ? [recomputeGraph] : []),
      ];
    },
    RoleDeleted: (e, read) => {
      const before = read.get('SELECT directory_id, key FROM roles WHERE id = ?', e.data.roleId);
      return [
        terminalSet('roles', { id: e.data.roleId }, 'deleted', 'deleted_hlc', e.hlc),
        ...(before
          ? [claimRecompute(roleClaims, [before.directory_id ?? null, before.key ?? null])]
          : []),
        recomputeGraph,
      ];
    },
    RolePrivilegeSet: (e) =>
      setGrant(e, e.data.roleId, 'privilege', e.data.privilege, '', e.data.effect),
    RoleModelPermissionSet: (e) =>
      setGrant(
        e,
        e.data.roleId,
        'model',
        `${e.data.resourceType}:${e.data.action}`,
        '',
        e.data.effect,
      ),
    ObjectPermissionSet: (e) =>
      setGrant(
        e,
        e.data.roleId,
        'object',
        `${e.data.resourceType}:${e.data.action}`,
        e.data.objectId,
        e.data.effect,
      ),
    RoleMembershipGranted: (e) => setMembership(e, e.data, 'granted'),
    RoleMembershipRevoked: (e) => setMembership(e, e.data, 'revoked'),
  },
};
