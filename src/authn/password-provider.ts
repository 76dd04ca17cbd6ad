// The password evidence provider: knowledge. Verification (argon2id, slow) happens in `prepare`,
// outside the writer queue; `decide` checks that the credential it verified is still the live
// one, inside its validity window, and records a rehash when the hash's parameters are not the
// configured ones (handed to `prepare`) or it is not a standard PHC string (OWASP Password Storage Cheat Sheet, "upgrading
// the work factor"; ASVS 5.0 V11.4.2).
// A password presented for a principal without one is verified against a dummy hash, so the
// answer takes as long as for a real one (no enumeration of who has a password).
import type { Reader } from '../readmodel/projection.ts';
import { getCredentialDirectory, passwordCredential, withinValidity } from './credentials.ts';
import type { EvidenceContext, EvidenceProvider } from './evidence.ts';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from './passwords.ts';

type Prepared =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'verified';
      readonly credentialId: string;
      readonly hash: string;
      readonly ok: boolean;
      readonly rehash: string | undefined;
    };

/** The password that counts: the one in the default directory, or, when the identity directory
 * the client came through is tied to credential directories, the first of those holding one.
 * A password change replaces this one, so the next login through that directory uses it. */
export const passwordCredentialFor = (
  state: Reader,
  principalId: string,
  credentialDirectories: ReadonlySet<string> | undefined,
) => {
  if (credentialDirectories === undefined) return passwordCredential(state, principalId);
  for (const directoryId of [...credentialDirectories].sort()) {
    const credential = passwordCredential(state, principalId, directoryId);
    if (credential) return credential;
  }
  return undefined;
};

const credentialFor = ({ state, principalId, credentialDirectories }: EvidenceContext) =>
  passwordCredentialFor(state, principalId, credentialDirectories);

export const passwordProvider: EvidenceProvider<Prepared> = {
  method: 'password',
  async prepare(context) {
    const password = context.presented.password;
    if (password === undefined) return { kind: 'none' };
    const credential = credentialFor(context);
    if (!credential) {
      await verifyPassword(await dummyHash(context.argon2), password);
      return { kind: 'none' };
    }
    const ok = await verifyPassword(credential.hash, password);
    const rehash =
      ok && needsRehash(credential.hash, context.argon2)
        ? await hashPassword(password.normalize('NFKC'), context.argon2)
        : undefined;
    return { kind: 'verified', credentialId: credential.id, hash: credential.hash, ok, rehash };
  },
  decide(context, prepared) {
    const { state, principalId, presented, now } = context;
    if (presented.password === undefined) return 'none';
    if (prepared === undefined || prepared.kind === 'none' || !prepared.ok) return 'failed';
    const credential = credentialFor(context);
    // Changed or revoked while we were hashing: what we verified no longer counts.
    if (!credential || credential.id !== prepared.credentialId || credential.hash !== prepared.hash)
      return 'failed';
    if (!withinValidity(credential, now)) return 'failed';
    const lifetimeS = getCredentialDirectory(
      state,
      credential.directoryId,
    )?.evidenceLifetimeSeconds;
    return {
      evidence: 'knowledge',
      method: 'password',
      credentialId: credential.id,
      expiresAt: now + (lifetimeS ?? 12 * 3600) * 1000,
      events:
        prepared.rehash === undefined
          ? []
          : [
              {
                type: 'PasswordSet',
                data: {
                  credentialId: credential.id,
                  principalId,
                  directoryId: credential.directoryId,
                  hash: prepared.rehash,
                  rehash: true,
                  validFrom: credential.validFrom,
                  validUntil: credential.validUntil,
                },
              },
            ],
    };
  },
};

/**
 * What `prepare` answers after verifying the right password for `credentialId` whose hash is
 * `hash`: for replaying login decisions without hashing (property tests generating histories).
 * `decide` still checks that this is the live credential and hash, or answers `failed`.
 */
export const verifiedPassword = (
  credentialId: string,
  hash: string,
): ReadonlyMap<EvidenceProvider<unknown>, unknown> =>
  new Map<EvidenceProvider<unknown>, unknown>([
    [
      passwordProvider,
      { kind: 'verified', credentialId, hash, ok: true, rehash: undefined } satisfies Prepared,
    ],
  ]);
