// What a use case (flow) is given instead of an HTTP request: the node's read model and a way to
// run commands, the evidence providers and settings, the throttle, the device trust, the clock.
// HTTP (src/http/), the CLI and an embedding application (src/index.ts) each build these from
// what they have; the flows never see fastify (kratos' login hook executor, zitadel's command
// layer: the use case lives between the handler and storage).
import type { Command } from '../../node/command.ts';
import type { Reader } from '../../readmodel/projection.ts';
import type { AuthConfig } from '../auth-config.ts';
import type { DirectoryPort } from '../directory-port.ts';
import type { EvidenceProvider } from '../evidence.ts';
import type { Activity } from '../sessions/views.ts';

/** Runs a command as the flow's caller (the request's actor, anonymous, the embedding app: the
 * caller binds who and from where) and answers its result. */
export type Execute = <R>(command: Command<R>) => Promise<R>;

/**
 * The authentication throttle (src/http/rate-limit.ts implements it per node): buckets by key,
 * taken before any argon2 run and before any event (OWASP ASVS 5.0 6.3.1, 6.3.3).
 */
export type Throttle = {
  /** Takes one attempt from every bucket in `keys`, all or none; throws RATE_LIMITED when one is
   * full. Answers what gives them back (a known device's success). */
  take(keys: readonly string[]): () => void;
  /** Throws RATE_LIMITED when one of the buckets is full; counts nothing. */
  check(keys: readonly string[]): void;
  /** Counts a failure found after the fact (a code that resolved to nothing). */
  fail(keys: readonly string[]): void;
};

/** Known devices (src/http/devices.ts): which device an attempt comes from, and a new token. */
export type DeviceTrust = {
  /** The known device this attempt comes from for `principalId`, verified; else undefined. */
  of(principalId: string): string | undefined;
  /** A new device token for `principalId` (its delivery is the caller's); none without keys. */
  issue?(principalId: string): string;
  /** Remembers where this attempt came from as a known client of `principalId` (Basic). */
  remember?(principalId: string): void;
};

/** An argon2 verification (passwords.ts `verifyPassword`); tests count calls through it. */
export type Verify = (phc: string, presented: string) => Promise<boolean>;

/** What a node offers every flow. */
export type AuthnPorts = {
  readonly read: Reader;
  readonly providers: readonly EvidenceProvider<unknown>[];
  readonly settings: AuthConfig;
  readonly throttle: Throttle;
  readonly now: () => number;
  /** Node-local session activity (idle timeout), set when a session starts or rotates. */
  readonly activity?: Activity | undefined;
  /** Default: passwords.ts `verifyPassword`. */
  readonly verify?: Verify | undefined;
  /** External LDAP / AD directories (src/directories/); none: no directory logins. */
  readonly directories?: DirectoryPort | undefined;
};

/** Who attempts, from where: one per request (or per library call). */
export type Caller = {
  readonly execute: Execute;
  /** The client's address as the edge resolved it; undefined when there is none (in-process). */
  readonly ip: string | undefined;
  readonly devices: DeviceTrust;
};

/** No known devices (an in-process caller without device keys). */
export const noDevices: DeviceTrust = { of: () => undefined };
