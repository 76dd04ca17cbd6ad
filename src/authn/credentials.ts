// Credential directories and password credentials: commands and queries.
// `credential set-password` is Talos' create_basic_credential: an administrator gives a principal
// a password (hashed outside the writer queue; only the argon2id PHC string reaches the event).

import { ADMIN_PRIVILEGE } from '../../projections/authz-engine.ts';
import {
  type CredentialDirectoryView,
  getCredentialDirectory,
  listCredentialDirectories,
  PASSWORD_DIRECTORY,
  type PasswordCredential,
  passwordChangedHlc,
  passwordCredential,
} from '../../projections/credentials.ts';
import { getDirectory } from '../../projections/identities.ts';
import { getPrincipal } from '../../projections/principals.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireDominates, requireDominatesUsersOf } from '../authz/conferral.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError, invalid } from '../errors.ts';
import type { EventPayload } from '../events/catalogue.ts';
import * as normalize from '../events/normalize.ts';
import type { Command, CommandMeta } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { type OidcInput, oidcSettings } from './oidc-settings.ts';
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

const KINDS: readonly Kind[] = ['password', 'otp', 'subnet', 'gateway', 'token', 'ldap', 'oidc'];

type LdapSettings = NonNullable<EventPayload<'CredentialDirectoryDefined'>['ldap']>;
/** What a client sends: the flavor and where; the rest takes the flavor's defaults. */
export type LdapInput = Partial<Omit<LdapSettings, 'attributes'>> & {
  readonly attributes?: Partial<LdapSettings['attributes']>;
};

const LDAP_URL = /^ldaps?:\/\/[A-Za-z0-9.\-[\]:]{1,300}(:\d{1,5})?\/?$/;
const FLAVOR_DEFAULTS = {
  openldap: {
    userFilter: '(&(objectClass=inetOrgPerson)(uid={name}))',
    idAttribute: 'entryUUID',
    nameAttribute: 'uid',
    attributes: { fullName: 'cn', briefName: 'givenName', email: 'mail' },
  },
  ad: {
    userFilter: '(&(objectCategory=person)(objectClass=user)(sAMAccountName={name}))',
    idAttribute: 'objectGUID',
    nameAttribute: 'sAMAccountName',
    attributes: { fullName: 'displayName', briefName: 'givenName', email: 'mail' },
  },
} as const;

const text = (field: string, raw: string, max: number): string => {
  const control = [...raw].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (raw.length === 0 || raw.length > max || control)
    throw invalid(field, `must be 1 to ${max} characters without control characters`);
  return raw;
};

/** A filter the directory will accept once `{name}` is in place: balanced parentheses (the
 * value is escaped per RFC 4515 at use, src/directories/ldap.ts). */
const filterTemplate = (field: string, raw: string): string => {
  text(field, raw, 500);
  if (!raw.includes('{name}')) throw invalid(field, 'must contain {name}');
  let depth = 0;
  for (const c of raw.replaceAll('\\(', '').replaceAll('\\)', '')) {
    depth += c === '(' ? 1 : c === ')' ? -1 : 0;
    if (depth < 0) break;
  }
  if (depth !== 0 || !raw.startsWith('(') || !raw.endsWith(')'))
    throw invalid(field, 'must be one parenthesised RFC 4515 filter');
  return raw;
};

/**
 * The settings of an `ldap` directory, with the flavor's defaults. Servers are reached over TLS
 * only (ldaps://, or ldap:// with StartTLS): a bind carries the user's password (ASVS 5.0
 * 12.3.1, RFC 4513 6.3.1). The identity directory it provisions into must exist.
 */
export const ldapSettings = (state: Reader, input: LdapInput): LdapSettings => {
  const flavor = input.flavor ?? 'openldap';
  if (flavor !== 'openldap' && flavor !== 'ad') throw invalid('ldap.flavor', 'openldap or ad');
  const d = FLAVOR_DEFAULTS[flavor];
  const urls = input.urls ?? [];
  if (urls.length === 0 || urls.length > 8) throw invalid('ldap.urls', 'name 1 to 8 servers');
  const startTls = input.startTls ?? false;
  for (const u of urls) {
    if (!LDAP_URL.test(u))
      throw invalid(
        'ldap.urls',
        `${JSON.stringify(u).slice(0, 80)} is not an ldap:// or ldaps:// URL`,
      );
    if (u.startsWith('ldap://') && !startTls)
      throw invalid(
        'ldap.urls',
        'plain ldap:// sends passwords in clear: use ldaps:// or startTls',
      );
  }
  const caPem = input.caPem ?? null;
  if (
    caPem !== null &&
    !/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/.test(caPem.trim())
  )
    throw invalid('ldap.caPem', 'must be PEM certificates');
  const ms = (field: string, v: number | undefined) => {
    const out = v ?? 5000;
    if (!Number.isInteger(out) || out < 100 || out > 60_000)
      throw invalid(field, '100 to 60000 ms');
    return out;
  };
  const bindDn = input.bindDn == null ? null : text('ldap.bindDn', input.bindDn, 500);
  const bindDnTemplate =
    input.bindDnTemplate == null ? null : text('ldap.bindDnTemplate', input.bindDnTemplate, 500);
  if (bindDnTemplate !== null && !bindDnTemplate.includes('{name}'))
    throw invalid('ldap.bindDnTemplate', 'must contain {name}');
  const identityDirectoryId = input.identityDirectoryId ?? null;
  if (identityDirectoryId !== null && !getDirectory(state, identityDirectoryId))
    throw new AppError('DIRECTORY_NOT_FOUND', `no identity directory ${identityDirectoryId}`, {
      field: 'ldap.identityDirectoryId',
    });
  const idAttribute = input.idAttribute ?? d.idAttribute;
  if (idAttribute !== 'entryUUID' && idAttribute !== 'objectGUID')
    throw invalid('ldap.idAttribute', 'entryUUID or objectGUID');
  const attr = (field: string, v: string | null | undefined, fallback: string | null) =>
    v === undefined ? fallback : v === null ? null : text(`ldap.attributes.${field}`, v, 100);
  const offline = input.offlineCacheSeconds ?? 0;
  if (!Number.isInteger(offline) || offline < 0 || offline > 2_592_000)
    throw invalid('ldap.offlineCacheSeconds', '0 (off) to 2592000 seconds (30 days)');
  const upnSuffixes = (input.upnSuffixes ?? []).map((u) => text('ldap.upnSuffixes', u, 253));
  if (upnSuffixes.length > 8) throw invalid('ldap.upnSuffixes', 'at most 8');
  return {
    flavor,
    urls: [...urls],
    startTls,
    caPem,
    connectTimeoutMs: ms('ldap.connectTimeoutMs', input.connectTimeoutMs),
    timeoutMs: ms('ldap.timeoutMs', input.timeoutMs),
    bindDn,
    baseDn: text('ldap.baseDn', input.baseDn ?? '', 500),
    userFilter: filterTemplate('ldap.userFilter', input.userFilter ?? d.userFilter),
    bindDnTemplate,
    idAttribute,
    nameAttribute: text('ldap.nameAttribute', input.nameAttribute ?? d.nameAttribute, 100),
    attributes: {
      fullName: attr('fullName', input.attributes?.fullName, d.attributes.fullName),
      briefName: attr('briefName', input.attributes?.briefName, d.attributes.briefName),
      email: attr('email', input.attributes?.email, d.attributes.email),
    },
    upnSuffixes,
    netbiosDomain:
      input.netbiosDomain == null ? null : text('ldap.netbiosDomain', input.netbiosDomain, 15),
    identityDirectoryId,
    offlineCacheSeconds: offline,
  };
};

/** Where an external directory's servers are, and who they say may log in, decides who logs in
 * as every linked principal and which groups count as roles: only an administrator (authlog.admin),
 * elevated, may set it (as only Keycloak's realm administrators configure user federation). */
const requireDirectoryAdmin = (state: Reader, meta: CommandMeta) => {
  const authority = requirePrivilege(state, meta, ADMIN_PRIVILEGE);
  requireElevation(meta);
  return authority;
};
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
  /** Kind `ldap` only, and required for it. */
  ldap?: LdapInput;
  /** Kind `oidc` only, and required for it (src/authn/oidc-settings.ts). */
  oidc?: OidcInput;
}): Command<CredentialDirectoryView> => ({
  name: 'DefineCredentialDirectory',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    const directoryId = normalize.id('directoryId', input.directoryId);
    if (getCredentialDirectory(state, directoryId))
      throw new AppError('ID_TAKEN', `credential directory ${directoryId} exists`);
    if (!KINDS.includes(input.kind as Kind))
      throw invalid('kind', `must be one of ${KINDS.join(', ')}`);
    if ((input.kind === 'ldap') !== (input.ldap !== undefined))
      throw invalid('ldap', 'is required for kind ldap, and only for it');
    if ((input.kind === 'oidc') !== (input.oidc !== undefined))
      throw invalid('oidc', 'is required for kind oidc, and only for it');
    const { name, key } = normalize.identityName('name', input.name);
    // An external directory decides who logs in as every principal linked to it: administrators
    // only, elevated (as for LDAP).
    const authority =
      input.ldap === undefined && input.oidc === undefined
        ? manage
        : [...manage, ...requireDirectoryAdmin(state, meta)];
    const data = {
      directoryId,
      name,
      key,
      kind: input.kind as Kind,
      evidences: evidenceList(input.evidences),
      evidenceLifetimeSeconds: lifetime(input.evidenceLifetimeSeconds ?? 12 * 3600),
      ...(input.ldap === undefined ? {} : { ldap: ldapSettings(state, input.ldap) }),
      ...(input.oidc === undefined ? {} : { oidc: oidcSettings(state, directoryId, input.oidc) }),
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
  /** Kind `ldap`: the whole new connection setting. */
  ldap?: LdapInput;
  /** Kind `oidc`: the whole new setting. */
  oidc?: OidcInput;
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
      evidences !== undefined ||
      life !== undefined ||
      input.ldap !== undefined ||
      input.oidc !== undefined
        ? requireDominatesUsersOf(state, meta, dir.id)
        : [];
    if (input.ldap !== undefined && dir.kind !== 'ldap')
      throw invalid('ldap', 'only a directory of kind ldap has connection settings');
    const ldap = input.ldap === undefined ? undefined : ldapSettings(state, input.ldap);
    if (input.oidc !== undefined && dir.kind !== 'oidc')
      throw invalid('oidc', 'only a directory of kind oidc has provider settings');
    const oidc = input.oidc === undefined ? undefined : oidcSettings(state, dir.id, input.oidc);
    const admin =
      ldap === undefined && oidc === undefined ? [] : requireDirectoryAdmin(state, meta);
    return {
      events: [
        {
          type: 'CredentialDirectoryChanged',
          data: {
            directoryId: dir.id,
            ...(named ? { name: named.name, key: named.key } : {}),
            ...(evidences ? { evidences } : {}),
            ...(life !== undefined ? { evidenceLifetimeSeconds: life } : {}),
            ...(ldap !== undefined ? { ldap } : {}),
            ...(oidc !== undefined ? { oidc } : {}),
          },
        },
      ],
      result: {
        ...dir,
        ...(named ? { name: named.name } : {}),
        ...(evidences ? { evidences } : {}),
        ...(life !== undefined ? { evidenceLifetimeSeconds: life } : {}),
      },
      authority: [...manage, ...users, ...admin],
    };
  },
});
