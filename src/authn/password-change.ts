// Password change by the user (NIST SP 800-63B 5.1.1.2; OWASP ASVS 2.1.5, 2.1.6): the current
// password is required and verified with argon2 like a login (a wrong one is an
// `AuthenticationFailed` that counts towards the lockout, ASVS 2.2.1), the new one follows the
// rules of set-password (passwords.ts checkNewPassword). "Password change asks": the caller says
// whether the principal's other sessions end (default yes, ASVS 3.3.3); the current session
// survives. Its elevation ends by itself: a session's elevation counts only when it was granted
// after the principal's latest password change (sessions/views.ts `view`).
import { openSessionsOf as openSessionIds } from '../../projections/sessions.ts';
import { AppError } from '../errors.ts';
import type { DomainEvent } from '../events/catalogue.ts';
import type { Command } from '../node/command.ts';
import { failureEvents, isLockedOut } from './lockout.ts';
import {
  knowledgeCredentialFor,
  passwordCredentialFor,
  passwordProvider,
} from './password-provider.ts';
import { type AuthSettings, ownLiveSession } from './sessions/decide.ts';
import { gather, type Prepared, sessionCredentialDirectories } from './sessions/evidence.ts';

export type ChangePasswordInput = {
  readonly sessionId: string;
  /** The current password, as presented (verified in `prepared` by the password provider). */
  readonly current: string;
  /** argon2id PHC string of the new password (checkNewPassword, then hashPassword). */
  readonly hash: string;
  readonly endOtherSessions: boolean;
  readonly ip: string | undefined;
  readonly prepared: Prepared;
  readonly settings: AuthSettings;
};

export type ChangePasswordResult =
  | { readonly ok: true; readonly endedSessions: number }
  | { readonly ok: false; readonly reason: string };

export const changeOwnPassword = (input: ChangePasswordInput): Command<ChangePasswordResult> => ({
  name: 'ChangeOwnPassword',
  decide(state, meta) {
    const { now } = meta;
    const principalId = ownLiveSession(state, meta, input.sessionId, now);
    const base = { principalId, identity: principalId, step: 'password-change' as const };
    const refuse = (reason: string) => ({
      events: failureEvents(state, { ...base, reason }, now, input.settings),
      result: { ok: false as const, reason },
    });
    if (isLockedOut(state, principalId, now)) return refuse('locked');
    // The password this session's identity directory counts (its tie), verified and replaced.
    const credentialDirectories = sessionCredentialDirectories(state, input.sessionId);
    if (knowledgeCredentialFor(state, principalId, credentialDirectories)?.kind === 'directory')
      throw new AppError('DIRECTORY_MANAGED', 'this password is changed in the external directory');
    const attempt = {
      principalId,
      presented: { password: input.current },
      ip: input.ip,
      credentialDirectories,
    };
    const { proofs, failed } = gather([passwordProvider], state, attempt, input.prepared, now);
    if (failed.length > 0 || proofs.length === 0) return refuse('password');
    // The provider checked that the verified credential is the live one, within its window.
    const credential = passwordCredentialFor(state, principalId, credentialDirectories);
    if (!credential) throw new AppError('CREDENTIAL_NOT_FOUND', 'no password credential');
    const ended = input.endOtherSessions
      ? openSessionIds(state, principalId).filter((id) => id !== input.sessionId)
      : [];
    const events: DomainEvent[] = [
      // A rehash the provider asks for is moot: the new hash replaces it.
      {
        type: 'PasswordSet',
        data: {
          credentialId: credential.id,
          principalId,
          directoryId: credential.directoryId,
          hash: input.hash,
          rehash: false,
          validFrom: credential.validFrom,
          validUntil: credential.validUntil,
        },
      },
      ...ended.map(
        (sessionId) =>
          ({ type: 'SessionEnded', data: { sessionId, reason: 'password-changed' } }) as const,
      ),
    ];
    return { events, result: { ok: true, endedSessions: ended.length } };
  },
});
