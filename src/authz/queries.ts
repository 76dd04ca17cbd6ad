// Read-side queries over the authorization read model, shared by decide functions and routes.
import type { Reader, SqlRow } from '../readmodel/projection.ts';

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

const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

const roleView = (r: SqlRow): RoleView => ({
  id: String(r.id),
  directoryId: String(r.directory_id),
  name: String(r.name),
  status: String(r.name_status),
  parentId: strOrNull(r.parent_id),
  effectiveParentId: strOrNull(r.effective_parent),
  deleted: Number(r.deleted) === 1,
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

export const roleHolding = (read: Reader, directoryId: string, key: string): string | undefined => {
  const r = read.get(
    "SELECT id FROM roles WHERE directory_id = ? AND key = ? AND name_status = 'held' AND deleted = 0",
    directoryId,
    key,
  );
  return r ? String(r.id) : undefined;
};

export const grantsOf = (read: Reader, roleId: string): GrantView[] =>
  read
    .all(
      "SELECT scope, name, object_id, effect FROM role_grants WHERE role_id = ? AND effect <> 'inherit' ORDER BY scope, name, object_id",
      roleId,
    )
    .map((g) => ({
      scope: String(g.scope),
      name: String(g.name),
      objectId: String(g.object_id),
      effect: String(g.effect),
    }));

export const membersOf = (read: Reader, roleId: string): string[] =>
  read
    .all(
      'SELECT principal_id FROM memberships WHERE role_id = ? AND granted = 1 ORDER BY principal_id',
      roleId,
    )
    .map((r) => String(r.principal_id));

export const isMember = (read: Reader, roleId: string, principalId: string): boolean =>
  read.get(
    'SELECT 1 AS x FROM memberships WHERE role_id = ? AND principal_id = ? AND granted = 1',
    roleId,
    principalId,
  ) !== undefined;

export const privilegeDescription = (read: Reader, name: string): string | undefined => {
  const r = read.get('SELECT description FROM privileges WHERE name = ?', name);
  return r ? String(r.description) : undefined;
};

export const resourceTypeActions = (read: Reader, name: string): string[] | undefined => {
  const r = read.get('SELECT actions FROM resource_types WHERE name = ?', name);
  return r ? (JSON.parse(String(r.actions)) as string[]) : undefined;
};

export const roleDirectory = (
  read: Reader,
  id: string,
): { id: string; requiredEvidences: string[] } | undefined => {
  const r = read.get('SELECT id, required_evidences FROM role_directories WHERE id = ?', id);
  return r
    ? { id: String(r.id), requiredEvidences: JSON.parse(String(r.required_evidences)) as string[] }
    : undefined;
};

export const roleDirectoryHolding = (read: Reader, key: string): string | undefined => {
  const r = read.get("SELECT id FROM role_directories WHERE key = ? AND name_status = 'held'", key);
  return r ? String(r.id) : undefined;
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
