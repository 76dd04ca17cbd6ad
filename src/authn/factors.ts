// What the OTP, subnet and gateway factors share: the seeded credential directories they belong
// to, who may manage a principal's credentials, validity windows, and how long the evidence they
// give counts in a session.
import {
  accessTokensOf,
  CERTIFICATE_DIRECTORY,
  DEFAULT_EVIDENCE_LIFETIME_S,
  GATEWAY_DIRECTORY,
  OTP_DIRECTORY,
  passwordCredentialsOf,
  SUBNET_DIRECTORY,
} from '../../projections/credentials.ts';
import { externalAccountsOf } from '../../projections/external-accounts.ts';
import {
  certificateRecordsOf,
  otpRecordsOf,
  passkeyRecordsOf,
  recoverySetsOf,
  subnetRecordsOf,
} from '../../projections/factors.ts';
import { getPrincipal, type PrincipalView } from '../../projections/principals.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireDominates } from '../authz/conferral.ts';
import { AppError, invalid } from '../errors.ts';
import type { EventPayload } from '../events/catalogue.ts';
import { SYSTEM_ACTOR } from '../events/envelope.ts';
import type { Authority, CommandMeta } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { type CredentialDirectoryView, getCredentialDirectory } from './credentials.ts';
import { MANAGE_PRINCIPALS } from './principals.ts';

/** Seeded credential directories (rows on every node): OTP gives `ownership`, subnet gives
 * `location`, the trusted gateway and client certificates give `trust`. */
export { CERTIFICATE_DIRECTORY, GATEWAY_DIRECTORY, OTP_DIRECTORY, SUBNET_DIRECTORY };

type Kind = EventPayload<'CredentialDirectoryDefined'>['kind'];
type EvidenceKind = EventPayload<'CredentialDirectoryDefined'>['evidences'][number];

/** A credential directory of the right kind, for a new credential; its id must exist. */
export const credentialDirectory = (
  state: Reader,
  directoryId: string,
  kind: Kind,
): CredentialDirectoryView => {
  const dir = getCredentialDirectory(state, directoryId);
  if (!dir || dir.kind !== kind)
    throw new AppError('CREDENTIAL_DIRECTORY_NOT_FOUND', `no ${kind} directory ${directoryId}`, {
      field: 'directoryId',
    });
  return dir;
};

/**
 * What a credential of `directoryId` proves, and until when: the directory declares its
 * evidences and their lifetime (DESIGN.md section 7). The factor's own evidences (one, or two
 * for a passkey that verified its user) that the directory lists, else the directory's first;
 * the seeded lifetime (12 h: NIST SP 800-63B 7.2, AAL2 reauthentication) when the directory is
 * gone.
 */
export const evidenceOf = (
  state: Reader,
  directoryId: string,
  own: readonly [EvidenceKind, ...EvidenceKind[]],
  now: number,
): { readonly evidences: readonly EvidenceKind[]; readonly expiresAt: number } => {
  const dir = getCredentialDirectory(state, directoryId);
  const listed = dir === undefined ? own : own.filter((e) => dir.evidences.includes(e));
  const evidences = listed.length > 0 ? listed : [dir?.evidences[0] ?? own[0]];
  const seconds = dir?.evidenceLifetimeSeconds ?? DEFAULT_EVIDENCE_LIFETIME_S;
  return { evidences, expiresAt: now + seconds * 1000 };
};

/**
 * The principal whose credentials are managed, checked: it exists and is active. A principal
 * manages its own credentials; anyone else needs `authlog.principals.manage`. With the grants the
 * actor acted by, for the decision's `authority`.
 */
export const credentialOwner = (
  state: Reader,
  meta: CommandMeta,
  principalId: string,
): { readonly owner: PrincipalView; readonly authority: Authority } => {
  let authority: Authority = [];
  if (meta.actor !== principalId && meta.actor !== SYSTEM_ACTOR) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    // A credential of someone else is a way into their account (src/authz/conferral.ts).
    authority = [...manage, ...requireDominates(state, meta, principalId)];
  }
  const p = getPrincipal(state, principalId);
  if (!p)
    throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${principalId}`, {
      field: 'principalId',
    });
  if (p.deleted || !p.active)
    throw new AppError('PRINCIPAL_DELETED', `principal ${p.id} is deleted or inactive`);
  return { owner: p, authority };
};

const MAX_VALID_DAYS = 3660;

/** An optional end of validity, as ISO 8601 UTC; must lie in the future. */
export const validUntil = (raw: string | undefined, now: number): string | null => {
  if (raw === undefined) return null;
  const t = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}T[0-9:.]+Z$/.test(raw) || Number.isNaN(t))
    throw invalid('validUntil', 'must be an ISO 8601 UTC time like 2030-01-31T00:00:00Z');
  if (t <= now) throw invalid('validUntil', 'must lie in the future');
  if (t > now + MAX_VALID_DAYS * 86_400_000)
    throw invalid('validUntil', `must lie within ${MAX_VALID_DAYS} days`);
  return new Date(t).toISOString();
};

/** Live: not revoked and inside its validity window. */
export const isLive = (
  c: { readonly revoked: boolean; readonly validUntil: string | null },
  now: number,
): boolean => !c.revoked && (c.validUntil === null || Date.parse(c.validUntil) > now);

export type CredentialSummary = {
  readonly credentialId: string;
  readonly kind:
    | 'password'
    | 'totp'
    | 'hotp'
    | 'subnet'
    | 'token'
    | 'certificate'
    | 'recovery'
    | 'oidc'
    | 'passkey';
  readonly name: string;
  readonly directoryId: string | null;
  /** OTP: confirmed by a first code; others: always true. */
  readonly confirmed: boolean;
  readonly cidrs: string[];
  readonly createdAt: string;
  readonly validUntil: string | null;
  readonly revoked: boolean;
};

/** What every kind's read-model record has in common. */
type Listed = {
  readonly id: string;
  readonly name: string;
  readonly directoryId: string | null;
  readonly createdAt: string;
  readonly validUntil: string | null;
  readonly revoked: boolean;
};

const summary = (
  kind: CredentialSummary['kind'],
  c: Listed,
  more: { readonly confirmed?: boolean; readonly cidrs?: string[] } = {},
): CredentialSummary => ({
  credentialId: c.id,
  kind,
  name: c.name,
  directoryId: c.directoryId,
  confirmed: more.confirmed ?? true,
  cidrs: more.cidrs ?? [],
  createdAt: c.createdAt,
  validUntil: c.validUntil,
  revoked: c.revoked,
});

/** A principal's credentials of every kind (password, OTP, subnet, access token, client
 * certificate, recovery codes, external account, passkey), never their secrets. */
export const listFactorCredentials = (read: Reader, principalId: string): CredentialSummary[] => {
  // Only the latest set of recovery codes is live (src/authn/recovery-codes.ts); older ones show
  // as revoked whether or not a revocation reached this node yet.
  const sets = recoverySetsOf(read, principalId);
  return [
    ...passwordCredentialsOf(read, principalId).map((c) =>
      summary('password', { ...c, name: 'password' }),
    ),
    ...otpRecordsOf(read, principalId).map((c) => summary(c.kind, c, { confirmed: c.confirmed })),
    ...subnetRecordsOf(read, principalId).map((c) => summary('subnet', c, { cidrs: c.cidrs })),
    ...accessTokensOf(read, principalId).map((t) =>
      summary('token', { ...t, directoryId: null, validUntil: t.expiresAt }, { cidrs: t.subnets }),
    ),
    ...certificateRecordsOf(read, principalId).map((c) => summary('certificate', c)),
    ...sets.map((s, i) =>
      summary('recovery', {
        ...s,
        name: `recovery codes (${s.codes.filter((c) => c.usedAt === null).length} of ${s.codes.length} left)`,
        validUntil: null,
        revoked: s.revoked || i < sets.length - 1,
      }),
    ),
    // Accounts at external OpenID providers (src/authn/external-login.ts): the address or login
    // name the provider gave; `conflict` when another principal's link of the account came first.
    ...externalAccountsOf(read, principalId).map((x) =>
      summary('oidc', {
        ...x,
        id: x.credentialId,
        name: `${x.label ?? x.subject} at ${x.issuer}${x.status === 'conflict' ? ' (conflict)' : ''}`,
        validUntil: null,
      }),
    ),
    // Passkeys: the name given at registration, and whether it syncs (a passkey) or stays on one
    // device (a security key).
    ...passkeyRecordsOf(read, principalId).map((c) =>
      summary('passkey', {
        ...c,
        name: `${c.name} (${c.backupEligible ? 'synced' : 'device-bound'})`,
      }),
    ),
  ].sort((a, b) =>
    a.credentialId < b.credentialId ? -1 : a.credentialId > b.credentialId ? 1 : 0,
  );
};
