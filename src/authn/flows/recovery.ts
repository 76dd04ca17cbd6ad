// Registration by email with verification, and password reset: the use cases behind
// POST /v1/auth/register, /verify-email, /reset/request and /reset/complete (self-service.ts holds
// the commands). Registration and the reset request answer the same whatever the address or
// identity names (no user enumeration: OWASP Forgot Password Cheat Sheet; ASVS 2.5.1): `start…`
// checks the input and takes the attempt, and hands back the work that depends on who exists
// (argon2, the write, the mail) for the caller to run after it has answered, so neither the body,
// the status nor the timing tells. Codes are throttled like tokens (throttle.ts `guardCode`), and
// a reset code is checked before the new password is hashed: a guessed code costs no argon2 run.

import { mailAddressOf, principalByEmailKey } from '../../../projections/principals.ts';
import { AppError } from '../../errors.ts';
import * as normalize from '../../events/normalize.ts';
import { newId } from '../../node/node.ts';
import type { Outbox } from '../outbox.ts';
import { checkNewPassword, hashPassword } from '../passwords.ts';
import {
  completePasswordReset,
  newAccountToken,
  RESET_PREFIX,
  registerSelf,
  requestPasswordReset,
  resetTokenPrincipal,
  VERIFY_PREFIX,
  verifyEmail,
} from '../self-service.ts';
import { hashSecret } from '../tokens.ts';
import { principalOfIdentity } from './identify.ts';
import type { AuthnPorts, Caller } from './ports.ts';
import { guardCode } from './throttle.ts';

/** Work to run after answering (in order, one at a time: the caller queues it). */
export type Later = () => Promise<void>;

const mailer = (outbox: Outbox | undefined): Outbox => {
  if (!outbox) throw new AppError('MAIL_UNAVAILABLE', 'this node has no outbox configured');
  return outbox;
};

export type RegistrationInput = {
  readonly email: string;
  readonly briefName: string;
  readonly password: string;
};

/** Checks a registration and takes its attempt (`mail:<address key>`); the registration itself
 * (or a mail to the address's owner) is the work answered. */
export const startRegistration = (
  ports: AuthnPorts,
  caller: Caller,
  outbox: Outbox | undefined,
  input: RegistrationInput,
): Later => {
  const { settings } = ports;
  if (settings.registration !== 'open')
    throw new AppError('REGISTRATION_CLOSED', 'registration is not open on this node');
  const box = mailer(outbox);
  const email = normalize.email('email', input.email);
  const briefName = normalize.text('briefName', input.briefName, 200);
  normalize.identityName('email', email.email);
  const normalized = checkNewPassword(input.password, settings.passwordPolicy);
  ports.throttle.take([`mail:${email.key}`]);
  return async () => {
    const hash = await hashPassword(normalized, settings.argon2);
    const { token, hash: tokenHash } = newAccountToken(VERIFY_PREFIX);
    const result = await caller.execute(
      registerSelf({
        principalId: newId(),
        identityId: newId(),
        credentialId: newId(),
        briefName,
        email,
        hash,
        tokenHash,
        lifetimeS: settings.verifyTokenS,
      }),
    );
    if (result.registered)
      await box.send({
        to: email.email,
        purpose: 'verify-email',
        subject: 'Confirm your email address',
        text: `Confirm your address for authlog with this code (valid ${settings.verifyTokenS / 3600} h, once): POST /v1/auth/verify-email {"token": "${token}"}`,
        token,
      });
    else
      await box.send({
        to: email.email,
        purpose: 'account-exists',
        subject: 'You already have an account',
        text: 'Someone (perhaps you) tried to register this address, which already has an account. Log in, or reset your password if you forgot it. If it was not you, ignore this message.',
      });
  };
};

/** Verifies an address with its mailed code; throws TOKEN_INVALID (counted) or RATE_LIMITED. */
export const confirmEmail = async (
  ports: AuthnPorts,
  caller: Caller,
  token: string,
): Promise<{ emailVerified: true }> => {
  await guardCode(ports.throttle, caller.ip, () =>
    caller.execute(verifyEmail({ tokenHash: hashSecret(token) })),
  );
  return { emailVerified: true };
};

/** Takes a reset request's attempt (`mail:<identity key>`); finding the principal, issuing the
 * code and mailing it is the work answered (nothing happens for an identity that names nobody). */
export const startPasswordReset = (
  ports: AuthnPorts,
  caller: Caller,
  outbox: Outbox | undefined,
  identity: string,
): Later => {
  const { settings, read } = ports;
  const box = mailer(outbox);
  let key = identity;
  try {
    key = normalize.identityName('identity', identity).key;
  } catch {
    // An impossible name is an unknown one: same answer.
  }
  ports.throttle.take([`mail:${key}`]);
  return async () => {
    let emailKey: string | undefined;
    try {
      emailKey = normalize.email('identity', identity).key;
    } catch {
      emailKey = undefined;
    }
    const principalId =
      principalOfIdentity(read, identity) ??
      (emailKey === undefined ? undefined : principalByEmailKey(read, emailKey));
    if (principalId === undefined) return;
    const address = mailAddressOf(read, principalId);
    if (!address) return;
    const { token, hash: tokenHash } = newAccountToken(RESET_PREFIX);
    const result = await caller.execute(
      requestPasswordReset({ principalId, tokenHash, lifetimeS: settings.resetTokenS }),
    );
    if (!result.issued) return;
    await box.send({
      to: address.email,
      purpose: 'reset-password',
      subject: 'Reset your password',
      text: `Set a new password for authlog with this code (valid ${Math.round(settings.resetTokenS / 60)} min, once): POST /v1/auth/reset/complete {"token": "${token}", "password": "…"}. If you did not ask, ignore this message.`,
      token,
    });
  };
};

/** Sets a new password with a reset code and ends every session of the principal; throws
 * TOKEN_INVALID (counted, before any argon2 run) or RATE_LIMITED. */
export const completeReset = async (
  ports: AuthnPorts,
  caller: Caller,
  input: { readonly token: string; readonly password: string },
): Promise<{ passwordChanged: true; endedSessions: number }> => {
  const normalized = checkNewPassword(input.password, ports.settings.passwordPolicy);
  const tokenHash = hashSecret(input.token);
  await guardCode(ports.throttle, caller.ip, () =>
    resetTokenPrincipal(ports.read, tokenHash, ports.now()),
  );
  const hash = await hashPassword(normalized, ports.settings.argon2);
  const result = await caller.execute(
    completePasswordReset({ tokenHash, hash, credentialId: newId() }),
  );
  return { passwordChanged: true, endedSessions: result.endedSessions };
};
