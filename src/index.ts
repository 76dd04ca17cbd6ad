// Library entry point: embed an authlog node in-process. Start a node on a store, run commands
// (as `system` or a principal), and ask authorization questions without an HTTP hop:
//
//   const node = await startNode({ nodeId: 'app-1', store: openSqliteStore({ path }), readModelPath });
//   await node.ready;
//   node.authz.check({ subject: { principalId }, resourceType: 'invoice', action: 'update', objectId });

export type {
  Authz,
  CheckInput,
  CheckResult,
  ObjectsResult,
  Subject,
} from '../projections/authz-engine.ts';
export {
  activatePrincipal,
  addIdentity,
  changeProfile,
  deactivatePrincipal,
  defineIdentityDirectory,
  deletePrincipal,
  registerPrincipal,
  removeIdentity,
} from './authn/principals.ts';
export {
  addRoleMember,
  createRole,
  definePrivilege,
  defineResourceType,
  defineRoleDirectory,
  deleteRole,
  removeRoleMember,
  setGrant,
  updateRole,
} from './authz/commands.ts';
export { AppError, type ErrorCode } from './errors.ts';
export type { Command, CommandMeta } from './node/command.ts';
export { type AuthlogNode, newId, startNode } from './node/node.ts';
export type { EventStore } from './store/port.ts';
export { openSqliteStore } from './store/sqlite/sqlite-store.ts';
