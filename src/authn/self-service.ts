// Self-service: registration by email, email verification, password reset (DESIGN.md section 7;
// issue 4). Tokens are 256 random bits (`alv_…` verification, `alr_…` reset) that reach only the
// outbox; events carry their SHA-256 (OWASP ASVS 2.5.1, 2.5.2; NIST SP 800-63B 5.1.1.2 / 6.1.2.3).
// Each is single use (a terminal `used` flag) and expires (verification 24 h, reset 30 min by
// default; AUTHLOG_VERIFY_TOKEN_TTL, AUTHLOG_RESET_TOKEN_TTL).
//
// A registered principal is ACTIVE with its email UNVERIFIED (not inactive until verified):
// `active` is the administrator's switch (a restrictive register, disabled wins), and letting a
// verification flip it would let a mailed token re-enable an account an administrator disabled.
// Verification proves control of the address and nothing else; nothing trusts an unverified
// address. Whoever registers someone else's address gets an account the owner can take over by a
// password reset, which is mailed to that address.
//
// A reset does not bypass anything else: it sets the password and ends every session, and the
// next login still needs every evidence the policy requires (an OTP with MFA; NIST SP 800-63B
// 6.1.2.3: recovery must not lower the authenticator's assurance). It does not unlock a locked-out
// account either: the lockout throttles online guessing and expires by itself (or an
// administrator unlocks it); proving control of a mailbox says nothing about who is guessing.
// A reset token issued before the password last changed is void (the user remembered it, or an
// administrator set a new one).
import { randomBytes } from 'node:crypto';
import {
  type AccountTokenPurpose,
  accountToken,
  emailKeyVerified,
} from '../../projections/account-tokens.ts';
import { PASSWORD_DIRECTORY } from '../../projections/credentials.ts';
import {
  allowedCredentialDirectories,
  INTERNAL_DIRECTORY,
  identityHolding,
} from '../../projections/identities.ts';
import {
  emailKeyOf,
  getPrincipal,
  mailAddressOf,
  principalByEmailKey,
} from '../../projections/principals.ts';
import { openSessionsOf as openSessionIds } from '../../projections/sessions.ts';
import { AppError } from '../errors.ts';
import type { DomainEvent } from '../events/catalogue.ts';
import { SYSTEM_ACTOR } from '../events/envelope.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { getCredentialDirectory, passwordChangedHlc } from './credentials.ts';
import { knowledgeCredentialFor, passwordCredentialFor } from './password-provider.ts';
import { registerPrincipal } from './principals.ts';
import { hashSecret } from './tokens.ts';

export const VERIFY_PREFIX = 'alv_';
export const RESET_PREFIX = 'alr_';

export const newAccountToken = (prefix: string): { token: string; hash: string } => {
  const token = `${prefix}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashSecret(token) };
};

const iso = (ms: number): string => new Date(ms).toISOString();

const invalidToken = () =>
  new AppError('TOKEN_INVALID', 'the token is unknown, already used or expired', {
    field: 'token',
  });

/** A token of `purpose` that is unused and unexpired at `now`, or TOKEN_INVALID. */
const liveToken = (state: Reader, hash: string, purpose: AccountTokenPurpose, now: number) => {
  const t = accountToken(state, hash, purpose);
  if (!t || t.used || Date.parse(t.expiresAt) <= now) throw invalidToken();
  return t;
};

/** Whether the principal verified the address it has now. */
export const isEmailVerified = (read: Reader, principalId: string): boolean => {
  const key = emailKeyOf(read, principalId);
  return key !== undefined && emailKeyVerified(read, principalId, key);
};

export type RegisterSelfInput = {
  readonly principalId: string;
  readonly identityId: string;
  readonly credentialId: string;
  readonly briefName: string;
  /** Already checked by normalize.email. */
  readonly email: { readonly email: string; readonly key: string };
  /** argon2id PHC string of a password checkNewPassword accepted. */
  readonly hash: string;
  readonly tokenHash: string;
  readonly lifetimeS: number;
};

export type RegisterSelfResult =
  | { readonly registered: true; readonly principalId: string }
  | { readonly registered: false; readonly existingPrincipalId: string | null };

/** Where a self-service password goes when the principal has none: the default directory,
 * unless the internal directory (where the address is) is tied to others, then the first of
 * those that holds passwords, so the next login through the internal directory counts it. */
const passwordDirectoryWithin = (state: Reader, allowed: ReadonlySet<string> | undefined) =>
  allowed === undefined || allowed.has(PASSWORD_DIRECTORY)
    ? PASSWORD_DIRECTORY
    : ([...allowed].sort().find((id) => getCredentialDirectory(state, id)?.kind === 'password') ??
      PASSWORD_DIRECTORY);

/**
 * A principal, its identity (the address) in the internal directory, its password and a
 * verification token, in one change; nothing when the address or the identity is taken (the
 * caller mails the owner instead, and answers the same either way).
 */
export const registerSelf = (input: RegisterSelfInput): Command<RegisterSelfResult> => ({
  name: 'RegisterSelf',
  decide(state, meta) {
    const holder =
      principalByEmailKey(state, input.email.key) ??
      identityHolding(state, INTERNAL_DIRECTORY, input.email.key)?.principalId;
    if (holder !== undefined)
      return { events: [], result: { registered: false, existingPrincipalId: holder ?? null } };
    // The administrators' command does the checks and builds the events; the route, not a
    // privilege, is what allows an anonymous caller here (registration open by configuration).
    const created = registerPrincipal({
      principalId: input.principalId,
      kind: 'person',
      briefName: input.briefName,
      email: input.email.email,
      identity: { identityId: input.identityId, name: input.email.email },
    }).decide(state, { ...meta, actor: SYSTEM_ACTOR });
    const events: DomainEvent[] = [
      ...created.events,
      {
        type: 'PasswordSet',
        data: {
          credentialId: input.credentialId,
          principalId: input.principalId,
          directoryId: passwordDirectoryWithin(
            state,
            allowedCredentialDirectories(state, INTERNAL_DIRECTORY),
          ),
          hash: input.hash,
          rehash: false,
          validFrom: null,
          validUntil: null,
        },
      },
      {
        type: 'EmailVerificationIssued',
        data: {
          principalId: input.principalId,
          tokenHash: input.tokenHash,
          expiresAt: iso(meta.now + input.lifetimeS * 1000),
          pii: { emailKey: input.email.key },
        },
      },
    ];
    return { events, result: { registered: true, principalId: input.principalId } };
  },
});

/** Marks the address verified and uses the token up (it was mailed to that address). */
export const verifyEmail = (input: {
  tokenHash: string;
}): Command<{ principalId: string; emailVerified: true }> => ({
  name: 'VerifyEmail',
  decide(state, meta) {
    const t = liveToken(state, input.tokenHash, 'verify-email', meta.now);
    const p = getPrincipal(state, t.principalId);
    const address = mailAddressOf(state, t.principalId);
    // The address changed since the mail went out: the token proves nothing about the new one.
    if (!p || p.deleted || address?.key !== t.emailKey) throw invalidToken();
    return {
      events: [
        {
          type: 'EmailVerified',
          data: {
            principalId: t.principalId,
            tokenHash: input.tokenHash,
            pii: { emailKey: address.key },
          },
        },
      ],
      result: { principalId: t.principalId, emailVerified: true },
    };
  },
});

/** A reset token for a principal with an address to mail it to; nothing otherwise. */
export const requestPasswordReset = (input: {
  principalId: string;
  tokenHash: string;
  lifetimeS: number;
}): Command<{ issued: boolean }> => ({
  name: 'RequestPasswordReset',
  decide(state, meta) {
    if (mailAddressOf(state, input.principalId) === undefined)
      return { events: [], result: { issued: false } };
    // A password an external directory keeps is reset there: a local one set by mail would stand
    // beside it and outlive the directory's decisions (a disabled account, a changed password).
    const allowed = allowedCredentialDirectories(state, INTERNAL_DIRECTORY);
    if (knowledgeCredentialFor(state, input.principalId, allowed)?.kind === 'directory')
      return { events: [], result: { issued: false } };
    return {
      events: [
        {
          type: 'PasswordResetIssued',
          data: {
            principalId: input.principalId,
            tokenHash: input.tokenHash,
            expiresAt: iso(meta.now + input.lifetimeS * 1000),
          },
        },
      ],
      result: { issued: true },
    };
  },
});

/**
 * The principal a reset token would reset now, or TOKEN_INVALID (unknown, used, expired, issued
 * before the password last changed, or its principal gone). The route asks before it pays for
 * hashing the new password, so a guessed code costs no argon2 run (issue 14); the command asks
 * again inside the writer queue.
 */
export const resetTokenPrincipal = (state: Reader, tokenHash: string, now: number): string => {
  const t = liveToken(state, tokenHash, 'reset-password', now);
  const p = getPrincipal(state, t.principalId);
  if (!p || p.deleted || !p.active) throw invalidToken();
  if (t.createdHlc <= passwordChangedHlc(state, p.id)) throw invalidToken();
  return p.id;
};

export const completePasswordReset = (input: {
  tokenHash: string;
  /** argon2id PHC string of a password checkNewPassword accepted. */
  hash: string;
  /** Used when the principal has no password credential yet. */
  credentialId: string;
}): Command<{ principalId: string; endedSessions: number }> => ({
  name: 'CompletePasswordReset',
  decide(state, meta) {
    const p = { id: resetTokenPrincipal(state, input.tokenHash, meta.now) };
    // The password a login through the internal directory (where the address is) counts: the
    // one of the credential directories it is tied to, if it is tied.
    const allowed = allowedCredentialDirectories(state, INTERNAL_DIRECTORY);
    const existing = passwordCredentialFor(state, p.id, allowed);
    const sessions = openSessionIds(state, p.id);
    const events: DomainEvent[] = [
      {
        type: 'PasswordSet',
        data: {
          credentialId: existing?.id ?? input.credentialId,
          principalId: p.id,
          directoryId: existing?.directoryId ?? passwordDirectoryWithin(state, allowed),
          hash: input.hash,
          rehash: false,
          validFrom: existing?.validFrom ?? null,
          validUntil: existing?.validUntil ?? null,
        },
      },
      ...sessions.map(
        (sessionId) =>
          ({ type: 'SessionEnded', data: { sessionId, reason: 'password-changed' } }) as const,
      ),
      { type: 'PasswordResetCompleted', data: { principalId: p.id, tokenHash: input.tokenHash } },
    ];
    return { events, result: { principalId: p.id, endedSessions: sessions.length } };
  },
});
