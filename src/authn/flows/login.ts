// Login (DESIGN.md section 7): the use case behind POST /v1/auth/login, callable in-process too.
// In this order, each before the next costs anything:
//   1. who the identity names (a read), and whether the attempt comes from a known device;
//   2. the throttle: the device's bucket, else the account's (throttle.ts) — before any argon2
//      run and before any event, so what a guesser can cause is bounded by the buckets;
//   3. every evidence provider's slow part (argon2), or for an identity that names nobody the
//      dummy verification (identify.ts), so the timing does not tell which;
//   4. the Login command, which records a failure or starts the session with a fresh token.
// The token and the device token are answered; how they reach the client is the caller's.
import {
  allowedCredentialDirectories,
  INTERNAL_DIRECTORY,
} from '../../../projections/identities.ts';
import { newId } from '../../node/node.ts';
import type { Presented } from '../evidence.ts';
import { prepareEvidence } from '../sessions/evidence.ts';
import { login } from '../sessions/login.ts';
import { newSessionToken, type Transport } from '../sessions/token.ts';
import type { SessionView } from '../sessions/views.ts';
import { failed, principalOfIdentity, spendVerification } from './identify.ts';
import type { AuthnPorts, Caller } from './ports.ts';
import { canonicalName, provisionOnFirstLogin } from './provision.ts';
import { attemptKey } from './throttle.ts';

export type LoginInput = {
  readonly identity: string;
  /** The identity directory (default: internal). */
  readonly directory?: string | undefined;
  readonly presented: Presented;
  readonly transport: Transport;
};

export type LoggedIn = {
  readonly session: SessionView;
  /** The session token: shown to the client once, only its hash is recorded. */
  readonly token: string;
  /** A fresh device token for the client (OWASP device cookies), when the caller can issue one. */
  readonly deviceToken?: string | undefined;
};

/** Logs in, or throws AUTHENTICATION_FAILED (whatever failed) or RATE_LIMITED. */
export const logIn = async (
  ports: AuthnPorts,
  caller: Caller,
  input: LoginInput,
): Promise<LoggedIn> => {
  const { identity, directory = INTERNAL_DIRECTORY, presented, transport } = input;
  const name = canonicalName(ports, directory, identity);
  const known = principalOfIdentity(ports.read, name, directory) ?? null;
  // A device that logged in as this principal before counts against its own bucket and passes a
  // lockout that failures from elsewhere caused; anyone else counts against the account (the
  // edge already limits per address).
  const device = known === null ? undefined : caller.devices.of(known);
  ports.throttle.take([
    known === null
      ? attemptKey({ identity: name, directoryId: directory })
      : attemptKey({ principalId: known }, device),
  ]);
  const principalId =
    known ??
    (await provisionOnFirstLogin(ports, caller, directory, name, presented.password)) ??
    null;
  if (principalId === null) await spendVerification(ports, presented.password ?? '');
  return startSession(ports, caller, {
    principalId,
    identity,
    directory,
    device,
    presented,
    transport,
  });
};

/** Steps 3 and 4 for a principal found otherwise (a passkey names its principal: flows/passkey.ts),
 * after the caller took from the throttle: the providers' slow part, then the Login command.
 * `principalId` null records a failure for `identity`. */
export const startSession = async (
  ports: AuthnPorts,
  caller: Caller,
  input: {
    readonly principalId: string | null;
    /** What the client named itself by, for the failure record. */
    readonly identity: string;
    readonly directory: string;
    readonly device: string | undefined;
    readonly presented: Presented;
    readonly transport: Transport;
  },
): Promise<LoggedIn> => {
  const { principalId, identity, directory, device, presented, transport } = input;
  const prepared =
    principalId === null
      ? new Map()
      : await prepareEvidence(
          ports.providers,
          ports.read,
          {
            principalId,
            presented,
            ip: caller.ip,
            credentialDirectories: allowedCredentialDirectories(ports.read, directory),
          },
          ports.now(),
          { argon2: ports.settings.argon2, directories: ports.directories },
        );
  const { token, hash } = newSessionToken();
  const sessionId = newId();
  const result = await caller.execute(
    login({
      sessionId,
      tokenHash: hash,
      transport,
      principalId,
      identity,
      identityDirectoryId: directory,
      device,
      presented,
      ip: caller.ip,
      prepared,
      providers: ports.providers,
      settings: ports.settings,
    }),
  );
  if (!result.ok) throw failed();
  ports.activity?.set(sessionId, ports.now());
  // A fresh device token at every login: this client is known now.
  const deviceToken = caller.devices.issue?.(result.session.principalId);
  return { session: result.session, token, ...(deviceToken === undefined ? {} : { deviceToken }) };
};
