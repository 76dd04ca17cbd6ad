// Authorization read model (DESIGN.md section 8). Effects of privileges, model and object
// permissions are restrictive registers (revoke over inherit over grant), memberships too
// (revoked over granted). Role names are unique claims within their directory; role parents are
// LWW edges resolved by the graph-edge rule (a cycle loses its newest edge, flagged).
import { type EventPayload, PHISHING_RESISTANT } from '../src/events/catalogue.ts';
import type { Envelope } from '../src/events/envelope.ts';
import { canonicalJson } from '../src/events/signature.ts';
import {
  type Derive,
  type Projection,
  type Reader,
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
import { str, stringList, strOrNull } from '../src/readmodel/rows.ts';
import { ANONYMOUS, GENESIS_HLC } from './principals.ts';

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
  'authlog.cluster.manage':
    'Enroll nodes in the cluster (their keys and what they may originate) and remove them',
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

/** A role directory's requirements as one list (sorted): its evidences, and PHISHING_RESISTANT
 * when it asks for that (the check engine treats it like any evidence the session must hold). */
const requiredOf = (d: {
  readonly requiredEvidences: readonly string[];
  readonly phishingResistant?: boolean | undefined;
}): string =>
  JSON.stringify(
    [
      ...new Set([...d.requiredEvidences, ...(d.phishingResistant ? [PHISHING_RESISTANT] : [])]),
    ].sort(),
  );

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
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL,
      external TEXT) WITHOUT ROWID`,
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
    // External role directories (LDAP groups): the latest observation per principal and
    // directory (LWW by HLC) and the normalized group names it listed, matched to role keys.
    `CREATE TABLE external_observations (
      principal_id TEXT NOT NULL, directory_id TEXT NOT NULL, hlc TEXT NOT NULL,
      PRIMARY KEY (principal_id, directory_id)) WITHOUT ROWID`,
    `CREATE TABLE external_groups (
      principal_id TEXT NOT NULL, directory_id TEXT NOT NULL, group_key TEXT NOT NULL,
      PRIMARY KEY (principal_id, directory_id, group_key)) WITHOUT ROWID`,
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
      `INSERT INTO role_directories VALUES (?, 'default', 'default', ?, '', 'held', '[]', ?, ?, 'system', 'genesis', NULL)`,
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
                values: { required_evidences: requiredOf(e.data) },
              },
            ],
            // Whether its memberships come from a directory is fixed when it is defined.
            earliest: [
              {
                hlcColumn: 'created_hlc',
                values: {
                  ...creation(e).values,
                  external: e.data.external === undefined ? null : canonicalJson(e.data.external),
                },
              },
            ],
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
            values: { required_evidences: requiredOf(e.data) },
          },
        ],
        e.hlc,
      ),
    ],
    ExternalRolesObserved: (e, read) => {
      const { principalId, directoryId, groupKeys } = e.data;
      const seen = read.get(
        'SELECT hlc FROM external_observations WHERE principal_id = ? AND directory_id = ?',
        principalId,
        directoryId,
      );
      if (seen !== undefined && str(seen, 'hlc') >= e.hlc) return [];
      return [
        sql(
          `INSERT INTO external_observations VALUES (?, ?, ?)
           ON CONFLICT (principal_id, directory_id) DO UPDATE SET hlc = excluded.hlc`,
          principalId,
          directoryId,
          e.hlc,
        ),
        sql(
          'DELETE FROM external_groups WHERE principal_id = ? AND directory_id = ?',
          principalId,
          directoryId,
        ),
        ...[...new Set(groupKeys)].map((k) =>
          sql('INSERT INTO external_groups VALUES (?, ?, ?)', principalId, directoryId, k),
        ),
      ];
    },
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

// Queries on the authorization read model: every read of its tables outside the handlers, each
// answering one question with a typed view (the row mappers are the only place columns become
// values).

export type RoleView = {
  readonly id: string;
  readonly directoryId: string;
  readonly name: string;
  readonly status: string;
  readonly parentId: string | null;
  /** The parent after cycle resolution (null when the edge was neutralised). */
  readonly effectiveParentId: string | null;
  readonly deleted: boolean;
};

export type GrantView = {
  readonly scope: string;
  readonly name: string;
  readonly objectId: string;
  readonly effect: string;
};

/** A role a principal holds, with the evidences its directory requires of a session. */
export type HeldRole = { readonly roleId: string; readonly required: readonly string[] };

const roleView = (r: SqlRow): RoleView => ({
  id: str(r, 'id'),
  directoryId: str(r, 'directory_id'),
  name: str(r, 'name'),
  status: str(r, 'name_status'),
  parentId: strOrNull(r, 'parent_id'),
  effectiveParentId: strOrNull(r, 'effective_parent'),
  deleted: Number(r.deleted) === 1,
});

const grantView = (g: SqlRow): GrantView => ({
  scope: str(g, 'scope'),
  name: str(g, 'name'),
  objectId: str(g, 'object_id'),
  effect: str(g, 'effect'),
});

const ROLE_COLUMNS = 'id, directory_id, name, name_status, parent_id, effective_parent, deleted';

export const getRole = (read: Reader, id: string): RoleView | undefined => {
  const r = read.get(`SELECT ${ROLE_COLUMNS} FROM roles WHERE id = ?`, id);
  return r && roleView(r);
};

export const listRoles = (read: Reader): RoleView[] =>
  read
    .all(`SELECT ${ROLE_COLUMNS} FROM roles WHERE deleted = 0 ORDER BY directory_id, key, id`)
    .map(roleView);

export const roleExists = (read: Reader, id: string): boolean =>
  read.get('SELECT 1 AS x FROM roles WHERE id = ? AND deleted = 0', id) !== undefined;

/** The first role, by directory then id, named `name` (any name status, deleted or not). */
export const roleNamed = (read: Reader, name: string): string | undefined => {
  const r = read.get('SELECT id FROM roles WHERE name = ? ORDER BY directory_id, id', name);
  return r ? str(r, 'id') : undefined;
};

export const roleHolding = (read: Reader, directoryId: string, key: string): string | undefined => {
  const r = read.get(
    "SELECT id FROM roles WHERE directory_id = ? AND key = ? AND name_status = 'held' AND deleted = 0",
    directoryId,
    key,
  );
  return r ? str(r, 'id') : undefined;
};

/** A role's effective parent, deleted or not (null: none, or no such role). */
export const effectiveParentOf = (read: Reader, roleId: string): string | null => {
  const r = read.get('SELECT effective_parent AS p FROM roles WHERE id = ?', roleId);
  return r ? strOrNull(r, 'p') : null;
};

/** A live role's effective parent (null: none, or the role is deleted or unknown). */
export const liveEffectiveParentOf = (read: Reader, roleId: string): string | null => {
  const r = read.get('SELECT effective_parent FROM roles WHERE id = ? AND deleted = 0', roleId);
  return r ? strOrNull(r, 'effective_parent') : null;
};

/** Every live role with its effective parent: the role graph as it stands. */
export const liveRoleParents = (read: Reader): Map<string, string | null> => {
  const parent = new Map<string, string | null>();
  for (const r of read.all('SELECT id, effective_parent AS p FROM roles WHERE deleted = 0'))
    parent.set(str(r, 'id'), strOrNull(r, 'p'));
  return parent;
};

/** A role's own grants and revokes (not what it inherits). */
export const grantsOf = (read: Reader, roleId: string): GrantView[] =>
  read
    .all(
      "SELECT scope, name, object_id, effect FROM role_grants WHERE role_id = ? AND effect <> 'inherit' ORDER BY scope, name, object_id",
      roleId,
    )
    .map(grantView);

/** The own grants and revokes of each of `roleIds` (roles without any are left out). */
export const grantsOfRoles = (
  read: Reader,
  roleIds: Iterable<string>,
): Map<string, GrantView[]> => {
  const byRole = new Map<string, GrantView[]>();
  for (const g of read.all(
    `SELECT role_id, scope, name, object_id, effect FROM role_grants
     WHERE effect <> 'inherit' AND role_id IN (SELECT value FROM json_each(?))`,
    JSON.stringify([...roleIds]),
  )) {
    const roleId = str(g, 'role_id');
    const list = byRole.get(roleId) ?? [];
    list.push(grantView(g));
    byRole.set(roleId, list);
  }
  return byRole;
};

/** Every grant a role holds, its own and inherited (what adding a member hands out). */
export const effectiveGrants = (read: Reader, roleId: string): GrantView[] => {
  const chain: string[] = [];
  for (let id: string | null = roleId; id !== null && !chain.includes(id); ) {
    chain.push(id);
    id = getRole(read, id)?.effectiveParentId ?? null;
  }
  const merged = new Map<string, GrantView>();
  for (const id of chain.reverse())
    for (const g of grantsOf(read, id)) merged.set(`${g.scope}/${g.name}/${g.objectId}`, g);
  return [...merged.values()].filter((g) => g.effect === 'grant');
};

/** The principals a role is granted to directly. */
export const membersOf = (read: Reader, roleId: string): string[] =>
  read
    .all(
      'SELECT principal_id FROM memberships WHERE role_id = ? AND granted = 1 ORDER BY principal_id',
      roleId,
    )
    .map((r) => str(r, 'principal_id'));

export const isMember = (read: Reader, roleId: string, principalId: string): boolean =>
  read.get(
    'SELECT 1 AS x FROM memberships WHERE role_id = ? AND principal_id = ? AND granted = 1',
    roleId,
    principalId,
  ) !== undefined;

/** The live roles granted to any of `principalIds`, sorted. */
export const rolesHeldBy = (read: Reader, principalIds: readonly string[]): string[] =>
  read
    .all(
      `SELECT DISTINCT m.role_id AS id FROM memberships m
         JOIN roles r ON r.id = m.role_id AND r.deleted = 0
       WHERE m.granted = 1 AND m.principal_id IN (SELECT value FROM json_each(?))
       ORDER BY m.role_id`,
      JSON.stringify(principalIds),
    )
    .map((r) => str(r, 'id'));

/** The live roles of each granted membership of `principalIds`, sorted: a role granted to two of
 * them is listed twice. */
export const liveMembershipsOf = (read: Reader, principalIds: readonly string[]): string[] =>
  read
    .all(
      `SELECT m.role_id FROM memberships m JOIN roles r ON r.id = m.role_id AND r.deleted = 0
       WHERE m.granted = 1 AND m.principal_id IN (SELECT value FROM json_each(?)) ORDER BY m.role_id`,
      JSON.stringify(principalIds),
    )
    .map((r) => str(r, 'role_id'));

/** Every principal granted some role (deleted roles included), sorted. */
export const principalsWithMemberships = (read: Reader): string[] =>
  read
    .all('SELECT DISTINCT principal_id FROM memberships WHERE granted = 1 ORDER BY principal_id')
    .map((r) => str(r, 'principal_id'));

/** The live roles that count for `principalId` in a check: its own and those of `anonymous`,
 * sorted, each with the evidences its directory requires (the check engine's one read of a
 * principal's roles). */
export const rolesCountingFor = (read: Reader, principalId: string): HeldRole[] =>
  read
    .all(
      `SELECT m.role_id, d.required_evidences FROM memberships m
       JOIN roles r ON r.id = m.role_id AND r.deleted = 0
       JOIN role_directories d ON d.id = r.directory_id AND d.external IS NULL
       WHERE m.granted = 1 AND m.principal_id IN (?, ?)
       UNION
       SELECT r.id, d.required_evidences FROM external_groups g
       JOIN role_directories d ON d.id = g.directory_id AND d.external IS NOT NULL
       JOIN roles r ON r.directory_id = g.directory_id AND r.key = g.group_key
         AND r.name_status = 'held' AND r.deleted = 0
       WHERE g.principal_id = ?
       ORDER BY 1`,
      principalId,
      ANONYMOUS,
      principalId,
    )
    .map((r) => ({ roleId: str(r, 'role_id'), required: stringList(r, 'required_evidences') }));

/** The names of every privilege, sorted. */
export const privilegeNames = (read: Reader): string[] =>
  read.all('SELECT name FROM privileges ORDER BY name').map((r) => str(r, 'name'));

export type ResourceTypeView = { readonly name: string; readonly actions: readonly string[] };

/** Every resource type with its actions, sorted by name. */
export const listResourceTypes = (read: Reader): ResourceTypeView[] =>
  read
    .all('SELECT name, actions FROM resource_types ORDER BY name')
    .map((t) => ({ name: str(t, 'name'), actions: stringList(t, 'actions') }));

export const privilegeDescription = (read: Reader, name: string): string | undefined => {
  const r = read.get('SELECT description FROM privileges WHERE name = ?', name);
  return r ? str(r, 'description') : undefined;
};

export const resourceTypeActions = (read: Reader, name: string): string[] | undefined => {
  const r = read.get('SELECT actions FROM resource_types WHERE name = ?', name);
  return r ? stringList(r, 'actions') : undefined;
};

export const roleDirectory = (
  read: Reader,
  id: string,
): { id: string; requiredEvidences: string[]; external?: ExternalRolesSettings } | undefined => {
  const r = read.get(
    'SELECT id, required_evidences, external FROM role_directories WHERE id = ?',
    id,
  );
  return r
    ? {
        id: str(r, 'id'),
        requiredEvidences: stringList(r, 'required_evidences'),
        ...(typeof r.external === 'string'
          ? { external: JSON.parse(r.external) as ExternalRolesSettings }
          : {}),
      }
    : undefined;
};

export const roleDirectoryHolding = (read: Reader, key: string): string | undefined => {
  const r = read.get("SELECT id FROM role_directories WHERE key = ? AND name_status = 'held'", key);
  return r ? str(r, 'id') : undefined;
};

export type ExternalRolesSettings = NonNullable<EventPayload<'RoleDirectoryDefined'>['external']>;

/** Every external role directory (LDAP groups), with how to read its groups. */
export const externalRoleDirectories = (
  read: Reader,
): { readonly id: string; readonly external: ExternalRolesSettings }[] =>
  read
    .all('SELECT id, external FROM role_directories WHERE external IS NOT NULL ORDER BY id')
    .map((r) => ({
      id: str(r, 'id'),
      external: JSON.parse(str(r, 'external')) as ExternalRolesSettings,
    }));

/** The latest observation of a principal's groups in an external role directory. */
export const observedGroups = (
  read: Reader,
  principalId: string,
  directoryId: string,
): { readonly hlc: string; readonly groupKeys: readonly string[] } | undefined => {
  const seen = read.get(
    'SELECT hlc FROM external_observations WHERE principal_id = ? AND directory_id = ?',
    principalId,
    directoryId,
  );
  if (seen === undefined) return undefined;
  const groupKeys = read
    .all(
      'SELECT group_key FROM external_groups WHERE principal_id = ? AND directory_id = ? ORDER BY group_key',
      principalId,
      directoryId,
    )
    .map((r) => str(r, 'group_key'));
  return { hlc: str(seen, 'hlc'), groupKeys };
};
