// Password change by its owner and password set by an administrator: the use cases behind
// POST /v1/auth/password and PUT /v1/principals/:id/password. Bad input is refused before it
// counts as an attempt or costs an argon2 run; a change then takes an attempt from the account's
// bucket before verifying the current password (password-change.ts: a wrong one counts towards
// the lockout).
import { newId } from '../../node/node.ts';
import { setPassword } from '../credentials.ts';
import { changeOwnPassword } from '../password-change.ts';
import { passwordProvider } from '../password-provider.ts';
import { checkNewPassword, hashPassword } from '../passwords.ts';
import { prepareEvidence, sessionCredentialDirectories } from '../sessions/evidence.ts';
import { failed } from './identify.ts';
import type { AuthnPorts, Caller } from './ports.ts';
import { attemptKey } from './throttle.ts';

export type ChangePasswordInput = {
  /** The caller's own session. */
  readonly session: { readonly sessionId: string; readonly principalId: string };
  readonly currentPassword: string;
  readonly newPassword: string;
  readonly endOtherSessions: boolean;
};

/** Changes the caller's own password; throws AUTHENTICATION_FAILED when the current one is not
 * right (or the account is locked), RATE_LIMITED, or a validation error for the new one. */
export const changePassword = async (
  ports: AuthnPorts,
  caller: Caller,
  input: ChangePasswordInput,
): Promise<{ changed: true; endedSessions: number }> => {
  const { session } = input;
  const normalized = checkNewPassword(
    input.newPassword,
    ports.settings.passwordPolicy,
    'newPassword',
  );
  ports.throttle.take([attemptKey({ principalId: session.principalId })]);
  const prepared = await prepareEvidence(
    [passwordProvider],
    ports.read,
    {
      principalId: session.principalId,
      presented: { password: input.currentPassword },
      ip: caller.ip,
      credentialDirectories: sessionCredentialDirectories(ports.read, session.sessionId),
    },
    ports.now(),
    { argon2: ports.settings.argon2, directories: ports.directories },
  );
  const hash = await hashPassword(normalized, ports.settings.argon2);
  const result = await caller.execute(
    changeOwnPassword({
      sessionId: session.sessionId,
      current: input.currentPassword,
      hash,
      endOtherSessions: input.endOtherSessions,
      ip: caller.ip,
      prepared,
      settings: ports.settings,
    }),
  );
  if (!result.ok) throw failed();
  return { changed: true, endedSessions: result.endedSessions };
};

export type SetPasswordInput = {
  readonly principalId: string;
  readonly password: string;
  readonly directoryId?: string | undefined;
  readonly validFrom?: string | null | undefined;
  readonly validUntil?: string | null | undefined;
};

/** Sets a principal's password (administrators, elevated: the command checks). */
export const setPrincipalPassword = async (
  ports: AuthnPorts,
  caller: Caller,
  { password, ...rest }: SetPasswordInput,
): Promise<{ credentialId: string; principalId: string }> => {
  const hash = await hashPassword(
    checkNewPassword(password, ports.settings.passwordPolicy),
    ports.settings.argon2,
  );
  return caller.execute(setPassword({ credentialId: newId(), hash, ...rest }));
};
