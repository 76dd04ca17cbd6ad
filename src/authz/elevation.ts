// Sudo mode. Sensitive operations (credential changes, grants and memberships, token issue,
// force log-off of others, authentication policies, unlocking) ask a session actor for a recent
// re-authentication (OWASP ASVS 3.7.1; NIST SP 800-63B 7.1 re-authentication), whatever
// privileges the session holds. The operator token and in-process callers are exempt; access
// tokens and Basic credentials can never elevate, so they are refused.
import { AppError } from '../errors.ts';
import { SYSTEM_ACTOR } from '../events/envelope.ts';
import type { CommandMeta } from '../node/command.ts';

export const requireElevation = (meta: CommandMeta): void => {
  if (meta.actor === SYSTEM_ACTOR || meta.credential === undefined) return;
  if (meta.credential === 'operator') return;
  if (meta.credential === 'session' && meta.elevated === true) return;
  throw new AppError(
    'ELEVATION_REQUIRED',
    meta.credential === 'session'
      ? 'confirm your identity first: POST /v1/auth/elevate'
      : 'this operation needs an elevated session; access tokens and Basic credentials cannot elevate',
  );
};
