// Adding evidence to a session (multi-step login: an OTP after the password) and elevating it
// (sudo mode): the use cases behind POST /v1/auth/evidence and /v1/auth/elevate. The same order
// as a login (login.ts): the device's or the account's bucket first, then argon2, then the
// command; either rotates the session token (OWASP ASVS 3.2.1).
import type { Presented } from '../evidence.ts';
import { prepareEvidence, sessionCredentialDirectories } from '../sessions/evidence.ts';
import { addEvidence, elevate } from '../sessions/step-up.ts';
import { newSessionToken } from '../sessions/token.ts';
import type { SessionView } from '../sessions/views.ts';
import { failed } from './identify.ts';
import type { AuthnPorts, Caller } from './ports.ts';
import { attemptKey } from './throttle.ts';

export type StepUpInput = {
  /** The caller's own session (the edge checked that the request came with it). */
  readonly session: { readonly sessionId: string; readonly principalId: string };
  readonly presented: Presented;
};

export type SteppedUp = {
  readonly session: SessionView;
  /** The rotated session token. */
  readonly token: string;
};

const stepUp = async (
  ports: AuthnPorts,
  caller: Caller,
  kind: 'evidence' | 'elevate',
  { session, presented }: StepUpInput,
): Promise<SteppedUp> => {
  // A known device counts against its own bucket and passes a lockout others caused.
  const device = caller.devices.of(session.principalId);
  ports.throttle.take([attemptKey({ principalId: session.principalId }, device)]);
  const prepared = await prepareEvidence(
    ports.providers,
    ports.read,
    {
      principalId: session.principalId,
      presented,
      ip: caller.ip,
      credentialDirectories: sessionCredentialDirectories(ports.read, session.sessionId),
      // A passkey's challenge is bound to the session that asked for it (src/authn/passkeys.ts).
      sessionId: session.sessionId,
    },
    ports.now(),
    { argon2: ports.settings.argon2, directories: ports.directories },
  );
  const { token, hash } = newSessionToken();
  const input = {
    sessionId: session.sessionId,
    tokenHash: hash,
    presented,
    ip: caller.ip,
    prepared,
    providers: ports.providers,
    settings: ports.settings,
    device,
  };
  const result = await caller.execute(kind === 'evidence' ? addEvidence(input) : elevate(input));
  if (!result.ok) throw failed();
  ports.activity?.set(session.sessionId, ports.now());
  return { session: result.session, token };
};

/** More evidence for the caller's own session; throws AUTHENTICATION_FAILED or RATE_LIMITED. */
export const addSessionEvidence = (ports: AuthnPorts, caller: Caller, input: StepUpInput) =>
  stepUp(ports, caller, 'evidence', input);

/** Elevates the caller's own session by re-presenting what its policy asks (default: the
 * password); throws AUTHENTICATION_FAILED or RATE_LIMITED. */
export const elevateSession = (ports: AuthnPorts, caller: Caller, input: StepUpInput) =>
  stepUp(ports, caller, 'elevate', input);
