// `Authorization: Basic` (scenario 5) is checked like a login on every request, so it is
// throttled like one, before argon2 and before any event: an unknown client takes an attempt from
// its address's bucket and from the account's, shared with login; a known device (a device token,
// or an address this principal used Basic from before) takes one from its own bucket and gets it
// back when it succeeds, so a busy application is not throttled and guessing from elsewhere cannot
// lock it out (src/http/devices.ts, lockout.ts). An identity that names nobody still costs one
// argon2 verification, and its failure is recorded.
import {
  allowedCredentialDirectories,
  INTERNAL_DIRECTORY,
} from '../../../projections/identities.ts';
import { basicAuthenticate } from '../basic.ts';
import { recordFailure } from '../lockout.ts';
import { passwordProvider } from '../password-provider.ts';
import { prepareEvidence } from '../sessions/evidence.ts';
import { principalOfIdentity, spendVerification } from './identify.ts';
import type { AuthnPorts, Caller } from './ports.ts';
import { canonicalName, provisionOnFirstLogin } from './provision.ts';
import { addressKey, attemptKey } from './throttle.ts';

export type BasicInput = { readonly identity: string; readonly password: string };

export type BasicAuthenticated = {
  readonly principalId: string;
  readonly credentialId: string;
  readonly evidences: readonly string[];
};

/** Who the identity and password prove, or undefined (every failure alike); throws RATE_LIMITED.
 * `caller.execute` runs as anonymous: the request is not authenticated yet. */
export const basicLogIn = async (
  ports: AuthnPorts,
  caller: Caller,
  { identity, password }: BasicInput,
): Promise<BasicAuthenticated | undefined> => {
  const name = canonicalName(ports, INTERNAL_DIRECTORY, identity);
  const known = principalOfIdentity(ports.read, name);
  const device = known === undefined ? undefined : caller.devices.of(known);
  const release = ports.throttle.take(
    known !== undefined && device !== undefined
      ? [attemptKey({ principalId: known }, device)]
      : [
          addressKey(caller.ip),
          known === undefined ? attemptKey({ identity: name }) : attemptKey({ principalId: known }),
        ],
  );
  const principalId =
    known ?? (await provisionOnFirstLogin(ports, caller, INTERNAL_DIRECTORY, name, password));
  if (principalId === undefined) {
    await spendVerification(ports, password);
    await caller.execute(
      recordFailure(
        { principalId: null, reason: 'unknown-identity', step: 'basic', identity },
        ports.settings,
      ),
    );
    return undefined;
  }
  const prepared = await prepareEvidence(
    [passwordProvider],
    ports.read,
    {
      principalId,
      presented: { password },
      ip: caller.ip,
      credentialDirectories: allowedCredentialDirectories(ports.read, INTERNAL_DIRECTORY),
    },
    ports.now(),
    { argon2: ports.settings.argon2, directories: ports.directories },
  );
  const result = await caller.execute(
    basicAuthenticate({
      principalId,
      identity,
      password,
      ip: caller.ip,
      prepared,
      provider: passwordProvider,
      settings: ports.settings,
      device,
    }),
  );
  if (!result.ok) return undefined;
  if (device !== undefined) release();
  caller.devices.remember?.(principalId);
  return { principalId, credentialId: result.credentialId, evidences: result.evidences };
};
