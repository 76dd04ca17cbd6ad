// The port through which logins reach external directories (LDAP, Active Directory): what the
// use cases and the password provider ask, and what they get back. The adapter is
// src/directories/ (ldapts); tests and an embedding application may bring their own.
import { observedGroups } from '../../projections/authz.ts';
import type { Reader } from '../readmodel/projection.ts';

/** Why a directory refused an account, for the audit trail only (the client is told that the
 * login failed, whatever failed: ASVS 5.0 6.3.8, no enumeration). */
export type Refusal =
  | 'invalid-credentials'
  | 'no-such-account'
  | 'disabled'
  | 'locked'
  | 'expired'
  | 'password-expired'
  | 'must-change'
  | 'restricted'
  | 'empty-password';

/** An account as the directory describes it. */
export type Account = {
  readonly dn: string;
  /** entryUUID, or objectGUID in its registry string form. */
  readonly entryId: string;
  readonly name: string;
  readonly fullName: string | undefined;
  readonly briefName: string | undefined;
  readonly email: string | undefined;
  /** Active Directory: why the account may not log in now, read from the entry. */
  readonly refusal: Refusal | undefined;
};

/** External role directory id → the normalized names of the principal's groups there. */
export type Observations = ReadonlyMap<string, readonly string[]>;

export type Verification =
  | {
      readonly ok: true;
      /** `ldap-offline`: this node's verifier, while no server answered. */
      readonly method: 'ldap' | 'ldap-offline';
      /** Online only: what the external role directories said (offline, the last stands). */
      readonly groups: Observations;
    }
  | { readonly ok: false; readonly refusal: Refusal };

export type FoundAccount =
  | { readonly ok: true; readonly account: Account; readonly groups: Observations }
  | { readonly ok: false; readonly refusal: Refusal };

export type LinkedAccount = {
  readonly directoryId: string;
  readonly credentialId: string;
  readonly entryId: string;
  readonly principalId: string;
};

/** Everything throws AppError DIRECTORY_UNAVAILABLE when no server answers (and, for `verify`,
 * no offline verifier may stand in). */
export type DirectoryPort = {
  /** The login name as the identity directory's provisioning directory knows it (AD:
   * `CORP\user` and `user@corp.example` are `user`); the typed name otherwise. */
  canonicalName(read: Reader, identityDirectoryId: string, typed: string): string;
  /** The `ldap` credential directory that provisions users first seen through this identity
   * directory, if one does. */
  provisioner(read: Reader, identityDirectoryId: string): string | undefined;
  /** A name seen for the first time: its account, if the password is right. */
  authenticateName(
    read: Reader,
    directoryId: string,
    typed: string,
    password: string,
  ): Promise<FoundAccount>;
  /** Checks the password of a principal's linked account. */
  verify(
    read: Reader,
    account: LinkedAccount,
    password: string,
    now: number,
  ): Promise<Verification>;
};

/** The observations that differ from what the read model holds for the principal: the events a
 * login records (ExternalRolesObserved). */
export const changedObservations = (
  read: Reader,
  principalId: string,
  groups: Observations,
): { principalId: string; directoryId: string; groupKeys: string[] }[] =>
  [...groups]
    .filter(([directoryId, keys]) => {
      const seen = observedGroups(read, principalId, directoryId);
      return seen === undefined || seen.groupKeys.join('\n') !== keys.join('\n');
    })
    .map(([directoryId, groupKeys]) => ({ principalId, directoryId, groupKeys: [...groupKeys] }));
