// Passwordless, username-less login with a passkey (W3C WebAuthn Level 3 section 7.2 with
// discoverable credentials): nobody types an identity; the credential the authenticator chose
// names the principal. The same order as a login (login.ts): who it names (a read), the throttle,
// then the providers' slow part (the passkey provider verifies the assertion against the
// ceremony) and the Login command, which records a failure or starts the session.
import { INTERNAL_DIRECTORY } from '../../../projections/identities.ts';
import type { PasskeyPresented } from '../evidence.ts';
import { isWebAuthnId, type Passkeys, principalOfAssertion } from '../passkeys.ts';
import type { Transport } from '../sessions/token.ts';
import { type LoggedIn, startSession } from './login.ts';
import type { AuthnPorts, Caller } from './ports.ts';
import { attemptKey } from './throttle.ts';

/** Logs in with a passkey, or throws AUTHENTICATION_FAILED (whatever failed) or RATE_LIMITED.
 * The session's identity directory is the internal one: its tie to credential directories, if
 * any, decides whether passkeys may log in at all (DESIGN.md section 7). */
export const logInWithPasskey = async (
  ports: AuthnPorts,
  caller: Caller,
  passkeys: Passkeys,
  input: { readonly passkey: PasskeyPresented; readonly transport: Transport },
): Promise<LoggedIn> => {
  const { passkey, transport } = input;
  const principalId = principalOfAssertion(ports.read, passkey.response) ?? null;
  // What the failure record names: the credential id the client sent (public, not personal).
  const identity = `passkey:${isWebAuthnId(passkey.response.id) ? passkey.response.id.slice(0, 200) : '?'}`;
  const device = principalId === null ? undefined : caller.devices.of(principalId);
  ports.throttle.take([
    principalId === null
      ? attemptKey({ identity, directoryId: INTERNAL_DIRECTORY })
      : attemptKey({ principalId }, device),
  ]);
  // An assertion naming nobody still uses its ceremony up (single use).
  if (principalId === null) passkeys.ceremonies.take(passkey.ceremonyId);
  return startSession(ports, caller, {
    principalId,
    identity,
    directory: INTERNAL_DIRECTORY,
    device,
    presented: { passkey },
    transport,
  });
};
