// Recovery codes: look-up secrets that stand in for a lost second factor (NIST SP 800-63B rev 4
// section 3.1.2, "look-up secrets"; Flask-Security-Too's two-factor recovery codes).
// - A set of 10 codes of 12 characters from Crockford's base32 alphabet (60 random bits each),
//   shown once in the answer that generates them and stored only as salted argon2id PHC strings
//   (rev 4 3.1.2.2: look-up secrets "SHALL be stored in a form that is resistant to offline
//   attacks"; below 112 bits of entropy, salted and hashed with a password hashing scheme). The
//   configured argon2 parameters are used, as for passwords.
// - Generating a set replaces the previous one: the command revokes every set the principal has,
//   and of two sets generated at two sites at once, the later one (HLC) is the live one
//   (projections/factors.ts `latestRecoverySet`).
// - A code gives `ownership` evidence, once, in place of the second factor: only alongside a
//   password in the same step, or in a session that already holds knowledge evidence. It never
//   replaces the password (issue 18; ASVS 5.0 V6.5.1: recovery is not a weaker way in).
// - Single use: the accepting decide records `RecoveryCodeUsed`, so the same node refuses the
//   code from then on and every node refuses it once the use has replicated; a code accepted at
//   two sites while they were cut off ends the later use's session on every node
//   (projections/sessions.ts, docs/single-use.md).
import { randomBytes } from 'node:crypto';
import { RECOVERY_DIRECTORY } from '../../projections/credentials.ts';
import { latestRecoverySet, type RecoverySet, recoverySetsOf } from '../../projections/factors.ts';
import { evidencesValidAt } from '../../projections/sessions.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError } from '../errors.ts';
import type { DomainEvent } from '../events/catalogue.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { directoryAllowed, type EvidenceContext, type EvidenceProvider } from './evidence.ts';
import { credentialDirectory, credentialOwner, evidenceOf } from './factors.ts';
import { type Argon2Params, hashPassword, verifyPassword } from './passwords.ts';

export const RECOVERY_CODE_COUNT = 10;
const CODE_CHARS = 12;
/** Crockford's base32: no I, L, O or U, so a code read aloud or off paper is not misread. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** A code as the client typed it, in canonical form: lower case, without spaces or dashes, with
 * the letters Crockford's decoding reads as digits (i, l → 1; o → 0); undefined when it cannot be
 * one (wrong length or characters), so nothing is hashed for it. */
export const canonicalCode = (typed: string): string | undefined => {
  if (typed.length > 64) return undefined;
  const code = typed.toLowerCase().replace(/[\s-]/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
  if (code.length !== CODE_CHARS) return undefined;
  for (const c of code) if (!ALPHABET.includes(c)) return undefined;
  return code;
};

/** A fresh code, shown as `xxxx-xxxx-xxxx`. 32 divides 256, so `byte & 31` is uniform. */
const newCode = (): string => {
  const chars = [...randomBytes(CODE_CHARS)].map((b) => ALPHABET[b & 31]).join('');
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`;
};

/** A new set: the codes to show once, and their hashes for the event. Slow (argon2): call it
 * outside the writer queue. */
export const newRecoveryCodes = async (
  params: Argon2Params,
): Promise<{ readonly codes: string[]; readonly hashes: string[] }> => {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  const hashes = await Promise.all(codes.map((c) => hashPassword(canonicalCode(c) ?? c, params)));
  return { codes, hashes };
};

/** The principal's live set: the latest generation, unless it was revoked. */
export const liveRecoverySet = (read: Reader, principalId: string): RecoverySet | undefined => {
  const set = latestRecoverySet(read, principalId);
  return set === undefined || set.revoked ? undefined : set;
};

export type RecoveryCodesView = {
  readonly credentialId: string;
  readonly createdAt: string;
  readonly total: number;
  readonly remaining: number;
  readonly used: readonly { readonly index: number; readonly at: string }[];
};

/** What the principal sees of its live set: how many codes are left, which were used when. */
export const recoveryCodesView = (
  read: Reader,
  principalId: string,
): RecoveryCodesView | undefined => {
  const set = liveRecoverySet(read, principalId);
  if (set === undefined) return undefined;
  const used = set.codes.flatMap((c) =>
    c.usedAt === null ? [] : [{ index: c.index, at: c.usedAt }],
  );
  return {
    credentialId: set.id,
    createdAt: set.createdAt,
    total: set.codes.length,
    remaining: set.codes.length - used.length,
    used,
  };
};

/**
 * Generates a new set for a principal (its own elevated session, or an administrator who may
 * manage it: a set of codes is a way into the account), revoking every earlier one. The hashes
 * are made by the caller, outside the queue (`newRecoveryCodes`).
 */
export const generateRecoveryCodes = (input: {
  readonly credentialId: string;
  readonly principalId: string;
  readonly hashes: readonly string[];
}): Command<{ credentialId: string }> => ({
  name: 'GenerateRecoveryCodes',
  decide(state, meta) {
    const { owner, authority } = credentialOwner(state, meta, input.principalId);
    // A new credential is a credential change: an elevated session (OWASP ASVS 3.7.1).
    requireElevation(meta);
    const directory = credentialDirectory(state, RECOVERY_DIRECTORY, 'recovery');
    const revoked: DomainEvent[] = recoverySetsOf(state, owner.id)
      .filter((s) => !s.revoked)
      .map((s) => ({
        type: 'CredentialRevoked',
        data: { credentialId: s.id, reason: 'replaced by new recovery codes' },
      }));
    return {
      events: [
        ...revoked,
        {
          type: 'RecoveryCodesGenerated',
          data: {
            credentialId: input.credentialId,
            principalId: owner.id,
            directoryId: directory.id,
            hashes: [...input.hashes],
          },
        },
      ],
      result: { credentialId: input.credentialId },
      authority,
    };
  },
});

// ---------------------------------------------------------------------------------------------
// Evidence

/** What `prepare` found: the live set and the index of the code that matched, if one did. */
type Match = { readonly setId: string; readonly index: number | undefined };

/** A code stands in for the second factor, never for the password: a password is presented in
 * the same step (the step fails as a whole if it is wrong), or the session already holds live
 * knowledge evidence. */
const besideKnowledge = (context: EvidenceContext): boolean => {
  if (context.presented.password !== undefined) return true;
  if (context.sessionId === undefined) return false;
  const at = new Date(context.now).toISOString();
  return evidencesValidAt(context.state, context.sessionId, at).some(
    (e) => e.evidence === 'knowledge',
  );
};

export const recoveryCodeProvider: EvidenceProvider<Match | undefined> = {
  method: 'recovery-code',
  async prepare(context) {
    const typed = context.presented.recoveryCode;
    if (typed === undefined) return undefined;
    const set = liveRecoverySet(context.state, context.principalId);
    if (set === undefined) return undefined;
    const code = canonicalCode(typed);
    if (code === undefined) return { setId: set.id, index: undefined };
    const unused = set.codes.filter((c) => c.usedAt === null);
    const matches = await Promise.all(unused.map((c) => verifyPassword(c.hash, code)));
    return { setId: set.id, index: unused[matches.indexOf(true)]?.index };
  },
  decide(context, prepared) {
    if (context.presented.recoveryCode === undefined) return 'none';
    if (!besideKnowledge(context)) return { failed: 'recovery-code:without-password' };
    if (prepared?.index === undefined) return 'failed';
    // Checked again in the queue: the set is still the live one and the code still unused (a
    // parallel submission of the same code loses here).
    const set = liveRecoverySet(context.state, context.principalId);
    const code = set?.codes.find((c) => c.index === prepared.index);
    if (
      set === undefined ||
      set.id !== prepared.setId ||
      code === undefined ||
      code.usedAt !== null
    )
      return 'failed';
    if (!directoryAllowed(context, set.directoryId)) return 'none';
    const sessionId = context.sessionId;
    const events: DomainEvent[] = [
      {
        type: 'RecoveryCodeUsed',
        data: {
          credentialId: set.id,
          index: code.index,
          ...(sessionId !== undefined ? { sessionId } : {}),
        },
      },
    ];
    const { evidences, expiresAt } = evidenceOf(
      context.state,
      set.directoryId,
      ['ownership'],
      context.now,
    );
    return { evidences, method: 'recovery-code', credentialId: set.id, expiresAt, events };
  },
};

/** Refuses when the principal has no live set (for a clear error on the routes). */
export const requireRecoveryCodes = (read: Reader, principalId: string): RecoveryCodesView => {
  const view = recoveryCodesView(read, principalId);
  if (view === undefined)
    throw new AppError('CREDENTIAL_NOT_FOUND', `principal ${principalId} has no recovery codes`);
  return view;
};
