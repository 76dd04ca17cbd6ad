// The password evidence provider: knowledge. Verification (argon2id, slow) happens in `prepare`,
// outside the writer queue; `decide` checks that the credential it verified is still the live
// one, inside its validity window, and records a rehash when the hash's parameters are not the
// configured ones (handed to `prepare`) or it is not a standard PHC string (OWASP Password Storage Cheat Sheet, "upgrading
// the work factor"; ASVS 5.0 V11.4.2).
// A password presented for a principal without one is verified against a dummy hash, so the
// answer takes as long as for a real one (no enumeration of who has a password).
// A principal whose password an external directory keeps (an account linked in an `ldap`
// credential directory, src/authn/provision.ts) is checked by that directory instead, through the
// node's DirectoryPort: the same knowledge evidence, recorded as method `ldap` (or `ldap-offline`
// when the node's cached verifier stood in for unreachable servers), and the groups the external
// role directories read at the same time, recorded when they changed.
import { type DirectoryAccount, directoryAccount } from '../../projections/credentials.ts';
import type { DomainEvent } from '../events/catalogue.ts';
import type { Reader } from '../readmodel/projection.ts';
import { getCredentialDirectory, passwordCredential, withinValidity } from './credentials.ts';
import { changedObservations, type Verification } from './directory-port.ts';
import type { EvidenceContext, EvidenceProvider, Outcome } from './evidence.ts';
import { evidenceOf } from './factors.ts';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from './passwords.ts';

type Prepared =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'directory';
      readonly credentialId: string;
      readonly entryId: string;
      readonly verification: Verification;
    }
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
  const found = knowledgeCredentialFor(state, principalId, credentialDirectories);
  return found?.kind === 'password' ? found.credential : undefined;
};

type Knowledge =
  | {
      readonly kind: 'password';
      readonly credential: NonNullable<ReturnType<typeof passwordCredential>>;
    }
  | { readonly kind: 'directory'; readonly account: DirectoryAccount };

/** What a presented password is checked against: a password credential or an account in an
 * external directory, the first in the allowed credential directories (by id); with no tie, the
 * default password directory's, else the first account. */
export const knowledgeCredentialFor = (
  state: Reader,
  principalId: string,
  credentialDirectories: ReadonlySet<string> | undefined,
): Knowledge | undefined => {
  const inDirectory = (directoryId: string | undefined): Knowledge | undefined => {
    const credential = passwordCredential(state, principalId, directoryId);
    if (credential) return { kind: 'password', credential };
    const account = directoryAccount(state, principalId, directoryId);
    return account && { kind: 'directory', account };
  };
  if (credentialDirectories === undefined) {
    const credential = passwordCredential(state, principalId);
    return credential ? { kind: 'password', credential } : inDirectory(undefined);
  }
  for (const directoryId of [...credentialDirectories].sort()) {
    const found = inDirectory(directoryId);
    if (found) return found;
  }
  return undefined;
};

const credentialFor = ({ state, principalId, credentialDirectories }: EvidenceContext) =>
  knowledgeCredentialFor(state, principalId, credentialDirectories);

export const passwordProvider: EvidenceProvider<Prepared> = {
  method: 'password',
  async prepare(context) {
    const password = context.presented.password;
    if (password === undefined) return { kind: 'none' };
    const found = credentialFor(context);
    if (found?.kind === 'directory') {
      const { account } = found;
      // A node without directories cannot check it: the login fails, as for a wrong password.
      const verification: Verification = context.directories
        ? await context.directories.verify(
            context.state,
            { ...account, credentialId: account.id },
            password,
            context.now,
          )
        : { ok: false, refusal: 'no-such-account' };
      return {
        kind: 'directory',
        credentialId: account.id,
        entryId: account.entryId,
        verification,
      };
    }
    if (!found) {
      await verifyPassword(await dummyHash(context.argon2), password);
      return { kind: 'none' };
    }
    const credential = found.credential;
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
    if (prepared?.kind === 'directory') return decideDirectory(context, prepared);
    if (prepared === undefined || prepared.kind === 'none' || !prepared.ok) return 'failed';
    const found = credentialFor(context);
    const credential = found?.kind === 'password' ? found.credential : undefined;
    // Changed or revoked while we were hashing: what we verified no longer counts.
    if (!credential || credential.id !== prepared.credentialId || credential.hash !== prepared.hash)
      return 'failed';
    if (!withinValidity(credential, now)) return 'failed';
    const lifetimeS = getCredentialDirectory(
      state,
      credential.directoryId,
    )?.evidenceLifetimeSeconds;
    return {
      evidences: ['knowledge'],
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

/** A directory's answer, checked again against the read model: the account is still the linked,
 * live one. The groups the external role directories read are recorded when they changed. */
const decideDirectory = (
  context: EvidenceContext,
  prepared: Extract<Prepared, { kind: 'directory' }>,
): Outcome => {
  const { verification } = prepared;
  if (!verification.ok) return { failed: `ldap:${verification.refusal}` };
  const found = credentialFor(context);
  if (
    found?.kind !== 'directory' ||
    found.account.id !== prepared.credentialId ||
    found.account.entryId !== prepared.entryId ||
    !withinValidity(found.account, context.now)
  )
    return { failed: 'ldap:changed' };
  const { evidences, expiresAt } = evidenceOf(
    context.state,
    found.account.directoryId,
    ['knowledge'],
    context.now,
  );
  const events: DomainEvent[] = changedObservations(
    context.state,
    context.principalId,
    verification.groups,
  ).map((data) => ({ type: 'ExternalRolesObserved', data }));
  return {
    evidences,
    method: verification.method,
    credentialId: found.account.id,
    expiresAt,
    events,
  };
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
