// Credential directories and password credentials: commands and queries.
// `credential set-password` is Talos' create_basic_credential: an administrator gives a principal
// a password (hashed outside the writer queue; only the argon2id PHC string reaches the event).
import {
  type CredentialDirectoryView,
  getCredentialDirectory,
  listCredentialDirectories,
  PASSWORD_DIRECTORY,
  type PasswordCredential,
  passwordChangedHlc,
  passwordCredential,
} from '../../projections/credentials.ts';
import { getPrincipal } from '../../projections/principals.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireDominates, requireDominatesUsersOf } from '../authz/conferral.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError, invalid } from '../errors.ts';
import type { EventPayload } from '../events/catalogue.ts';
import * as normalize from '../events/normalize.ts';
import type { Command } from '../node/command.ts';
import { MANAGE_PRINCIPALS } from './principals.ts';

export {
  type CredentialDirectoryView,
  getCredentialDirectory,
  listCredentialDirectories,
  type PasswordCredential,
  passwordChangedHlc,
  passwordCredential,
};

type Kind = EventPayload<'CredentialDirectoryDefined'>['kind'];
type EvidenceKind = EventPayload<'CredentialDirectoryDefined'>['evidences'][number];

/** Inside its validity window at `now`. */
export const withinValidity = (
  c: { readonly validFrom: string | null; readonly validUntil: string | null },
  now: number,
): boolean =>
  (c.validFrom === null || Date.parse(c.validFrom) <= now) &&
  (c.validUntil === null || now < Date.parse(c.validUntil));

const isoOrNull = (field: string, raw: string | null | undefined): string | null => {
  if (raw === undefined || raw === null) return null;
  const ms = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(raw) || Number.isNaN(ms))
    throw invalid(field, 'must be an ISO 8601 date-time');
  return new Date(ms).toISOString();
};

/** The shape the PasswordSet schema accepts (the argon2 package writes the parameters m, p, t). */
const ARGON2ID_PHC =
  /^\$argon2id\$v=19\$[mtp]=\d{1,10},[mtp]=\d{1,10},[mtp]=\d{1,10}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{22,}$/;

export type SetPasswordInput = {
  /** Used when the principal has no password credential in the directory yet. */
  readonly credentialId: string;
  readonly principalId: string;
  readonly directoryId?: string;
  /** argon2id PHC string, made by passwords.ts from a password checkNewPassword accepted. */
  readonly hash: string;
  readonly validFrom?: string | null;
  readonly validUntil?: string | null;
};

export const setPassword = (
  input: SetPasswordInput,
): Command<{ credentialId: string; principalId: string }> => ({
  name: 'SetPassword',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    requireElevation(meta);
    // Whoever sets a password logs in as its principal: only for principals the actor could act as.
    const authority = [...manage, ...requireDominates(state, meta, input.principalId)];
    const p = getPrincipal(state, input.principalId);
    if (!p)
      throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${input.principalId}`, {
        field: 'principalId',
      });
    if (p.deleted) throw new AppError('PRINCIPAL_DELETED', `principal ${p.id} is deleted`);
    const directoryId = input.directoryId ?? PASSWORD_DIRECTORY;
    const dir = getCredentialDirectory(state, directoryId);
    if (dir?.kind !== 'password')
      throw new AppError('CREDENTIAL_DIRECTORY_NOT_FOUND', `no password directory ${directoryId}`, {
        field: 'directoryId',
      });
    if (!ARGON2ID_PHC.test(input.hash)) throw invalid('hash', 'must be an argon2id PHC string');
    const validFrom = isoOrNull('validFrom', input.validFrom);
    const validUntil = isoOrNull('validUntil', input.validUntil);
    if (validFrom !== null && validUntil !== null && validUntil <= validFrom)
      throw invalid('validUntil', 'must be after validFrom');
    const existing = passwordCredential(state, p.id, directoryId);
    const credentialId = existing?.id ?? normalize.id('credentialId', input.credentialId);
    return {
      events: [
        {
          type: 'PasswordSet',
          data: {
            credentialId,
            principalId: p.id,
            directoryId,
            hash: input.hash,
            rehash: false,
            validFrom,
            validUntil,
          },
        },
      ],
      result: { credentialId, principalId: p.id },
      authority,
    };
  },
});

const KINDS: readonly Kind[] = ['password', 'otp', 'subnet', 'gateway', 'token'];
const EVIDENCES: readonly EvidenceKind[] = [
  'knowledge',
  'ownership',
  'location',
  'trust',
  'inherence',
];

const evidenceList = (raw: readonly string[]): EvidenceKind[] => {
  const out = [...new Set(raw)].sort();
  if (out.length === 0) throw invalid('evidences', 'name at least one evidence');
  for (const e of out)
    if (!EVIDENCES.includes(e as EvidenceKind))
      throw invalid('evidences', `${e} is not one of ${EVIDENCES.join(', ')}`);
  return out as EvidenceKind[];
};

const lifetime = (raw: number): number => {
  if (!Number.isInteger(raw) || raw < 60 || raw > 31_536_000)
    throw invalid('evidenceLifetimeSeconds', 'must be 60 to 31536000 seconds');
  return raw;
};

export const defineCredentialDirectory = (input: {
  directoryId: string;
  name: string;
  kind: string;
  evidences: readonly string[];
  evidenceLifetimeSeconds?: number;
}): Command<CredentialDirectoryView> => ({
  name: 'DefineCredentialDirectory',
  decide(state, meta) {
    const authority = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    const directoryId = normalize.id('directoryId', input.directoryId);
    if (getCredentialDirectory(state, directoryId))
      throw new AppError('ID_TAKEN', `credential directory ${directoryId} exists`);
    if (!KINDS.includes(input.kind as Kind))
      throw invalid('kind', `must be one of ${KINDS.join(', ')}`);
    const { name, key } = normalize.identityName('name', input.name);
    const data = {
      directoryId,
      name,
      key,
      kind: input.kind as Kind,
      evidences: evidenceList(input.evidences),
      evidenceLifetimeSeconds: lifetime(input.evidenceLifetimeSeconds ?? 12 * 3600),
    };
    return {
      events: [{ type: 'CredentialDirectoryDefined', data }],
      result: {
        id: directoryId,
        name,
        kind: data.kind,
        evidences: data.evidences,
        evidenceLifetimeSeconds: data.evidenceLifetimeSeconds,
      },
      authority,
    };
  },
});

export const changeCredentialDirectory = (input: {
  directoryId: string;
  name?: string;
  evidences?: readonly string[];
  evidenceLifetimeSeconds?: number;
}): Command<CredentialDirectoryView> => ({
  name: 'ChangeCredentialDirectory',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    requireElevation(meta);
    const dir = getCredentialDirectory(state, input.directoryId);
    if (!dir)
      throw new AppError(
        'CREDENTIAL_DIRECTORY_NOT_FOUND',
        `no credential directory ${input.directoryId}`,
      );
    const named = input.name === undefined ? undefined : normalize.identityName('name', input.name);
    const evidences = input.evidences === undefined ? undefined : evidenceList(input.evidences);
    const life =
      input.evidenceLifetimeSeconds === undefined
        ? undefined
        : lifetime(input.evidenceLifetimeSeconds);
    // The evidence a credential gives, and for how long, decide what every session proven with it
    // may do: more of either widens, less locks out (src/authz/conferral.ts).
    const users =
      evidences !== undefined || life !== undefined
        ? requireDominatesUsersOf(state, meta, dir.id)
        : [];
    return {
      events: [
        {
          type: 'CredentialDirectoryChanged',
          data: {
            directoryId: dir.id,
            ...(named ? { name: named.name, key: named.key } : {}),
            ...(evidences ? { evidences } : {}),
            ...(life !== undefined ? { evidenceLifetimeSeconds: life } : {}),
          },
        },
      ],
      result: {
        ...dir,
        ...(named ? { name: named.name } : {}),
        ...(evidences ? { evidences } : {}),
        ...(life !== undefined ? { evidenceLifetimeSeconds: life } : {}),
      },
      authority: [...manage, ...users],
    };
  },
});
