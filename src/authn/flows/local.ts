// The flows in-process, without HTTP: ports over a running node and a caller acting as a principal
// (or anonymous), for an embedding application (src/index.ts) and the CLI. The same use cases as
// the HTTP routes, with the same throttle keys and timing defence; no cookies, and no device
// tokens unless the caller brings a device trust of its own.
//
//   const ports = nodePorts(node, { otpKeys });
//   const { session, token } = await logIn(ports, localCaller(node), {
//     identity: 'alice', presented: { password }, transport: 'bearer' });
import type { AuthlogNode } from '../../node/node.ts';
import { type AuthConfig, defaultAuthConfig } from '../auth-config.ts';
import type { DirectoryPort } from '../directory-port.ts';
import type { EvidenceProvider } from '../evidence.ts';
import { checkArgon2Params } from '../passwords.ts';
import { evidenceProviders } from '../providers.ts';
import { ephemeralKeyring, type Keyring } from '../seed-crypto.ts';
import type { Activity } from '../sessions/views.ts';
import {
  type AuthnPorts,
  type Caller,
  type DeviceTrust,
  noDevices,
  type Throttle,
} from './ports.ts';
import { memoryThrottle } from './throttle.ts';

export type NodePortsOptions = {
  /** Session, lockout and argon2 settings; unset ones take the defaults (as `buildApp`). */
  readonly auth?: Partial<AuthConfig>;
  /** The OTP seed keys (`config.secrets.totpKeys`), for the OTP provider; default: random. */
  readonly otpKeys?: Keyring;
  /** Evidence providers (default: every one in providers.ts). */
  readonly providers?: readonly EvidenceProvider<unknown>[];
  /** Default: 20 attempts a minute per bucket, in memory (as `AUTHLOG_AUTH_RATE_LIMIT`). */
  readonly throttle?: Throttle;
  readonly activity?: Activity;
  /** External LDAP / AD directories (src/directories/ DirectoryService). */
  readonly directories?: DirectoryPort;
};

/** What the flows take, over a running node. */
export const nodePorts = (node: AuthlogNode, options: NodePortsOptions = {}): AuthnPorts => {
  const settings: AuthConfig = { ...defaultAuthConfig, ...options.auth };
  checkArgon2Params(settings.argon2);
  return {
    read: node.read,
    providers: options.providers ?? evidenceProviders(options.otpKeys ?? ephemeralKeyring()),
    settings,
    throttle: options.throttle ?? memoryThrottle({ max: 20, windowMs: 60_000 }),
    now: () => node.now(),
    activity: options.activity,
    directories: options.directories,
  };
};

export type LocalCallerOptions = {
  /** Who runs the commands: `anonymous` to log in; the session's principal to step up. */
  readonly actor?: string;
  /** The session (or credential) the actor acts through. */
  readonly via?: string;
  /** The end user's address, when the embedding application knows it (subnet evidence,
   * throttle buckets, the audit trail). */
  readonly ip?: string;
  readonly devices?: DeviceTrust;
};

/** A caller that runs commands on `node` directly. */
export const localCaller = (node: AuthlogNode, options: LocalCallerOptions = {}): Caller => {
  const meta = {
    actor: options.actor ?? 'anonymous',
    ...(options.via === undefined ? {} : { via: options.via }),
    ...(options.ip === undefined ? {} : { ip: options.ip }),
  };
  return {
    execute: async (command) => (await node.execute(command, meta)).result,
    ip: options.ip,
    devices: options.devices ?? noDevices,
  };
};
