// Library entry point: embed an authlog node in-process. Start a node on a store, run commands
// (as `system` or a principal), and ask authorization questions without an HTTP hop:
//
//   const node = await startNode({ nodeId: 'app-1', store: openSqliteStore({ path }), readModelPath });
//   await node.ready;
//   node.authz.check({ subject: { principalId }, resourceType: 'invoice', action: 'update', objectId });
//
// and log in, step up and elevate with the same use cases the HTTP routes call (src/authn/flows/:
// the throttle, the timing defence and the lockout included):
//
//   const ports = nodePorts(node, { otpKeys });
//   const { session, token } = await logIn(ports, localCaller(node, { ip }), {
//     identity: 'alice', presented: { password }, transport: 'bearer' });
//   await elevateSession(ports, localCaller(node, { actor: session.principalId, via: session.sessionId }),
//     { session, presented: { password } });

export type {
  Authz,
  CheckInput,
  CheckResult,
  ObjectsResult,
  Subject,
} from '../projections/authz-engine.ts';
export { type BasicAuthenticated, basicLogIn } from './authn/flows/basic.ts';
export {
  type LocalCallerOptions,
  localCaller,
  type NodePortsOptions,
  nodePorts,
} from './authn/flows/local.ts';
export { type LoggedIn, type LoginInput, logIn } from './authn/flows/login.ts';
export { changePassword, setPrincipalPassword } from './authn/flows/passwords.ts';
export type {
  AuthnPorts,
  Caller,
  DeviceTrust,
  Execute,
  Throttle,
} from './authn/flows/ports.ts';
export {
  completeReset,
  confirmEmail,
  startPasswordReset,
  startRegistration,
} from './authn/flows/recovery.ts';
export { addSessionEvidence, elevateSession, type SteppedUp } from './authn/flows/step.ts';
export { memoryThrottle } from './authn/flows/throttle.ts';
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
export type { SessionView } from './authn/sessions/views.ts';
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
