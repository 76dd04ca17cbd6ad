// How an event reads in the audit trail: its family, the ids it touches (subjects) and a one-line
// human summary. Pure functions of the event's type and payload, nothing else: the audit read
// model is in the digest, so every node must write the same row for the same event.
//
// Every event type gets a row, also those added to the catalogue after this module was written:
// subjects are then every `…Id` / `…Ids` field, and the summary names only allow-listed fields.
// Secrets and hashes never appear in a summary (OWASP ASVS 7.1.1: no credentials in logs), and
// personal data only where an auditor needs it: the login name of an added identity. Names,
// e-mail addresses and phone numbers stay in the events' `pii` sub-objects.

import type { AuthorityUse } from '../src/events/envelope.ts';

export type Family =
  | 'principal'
  | 'identity'
  | 'directory'
  | 'credential'
  | 'authorization'
  | 'session'
  | 'authentication'
  | 'accounting'
  | 'cluster'
  | 'other';

export const FAMILIES: readonly Family[] = [
  'principal',
  'identity',
  'directory',
  'credential',
  'authorization',
  'session',
  'authentication',
  'accounting',
  'cluster',
  'other',
];

// First match wins: `PrincipalLockedOut` is authentication before it is principal.
const FAMILY_RULES: readonly (readonly [RegExp, Family])[] = [
  [/^Node|Equivocation|ReplicationRefused/, 'cluster'],
  [/Directory/, 'directory'],
  [/Session/, 'session'],
  [/Authentica|LockedOut|Unlocked|Login|Logout|LoggedOut|Elevat|Challenge/, 'authentication'],
  [/^Identity/, 'identity'],
  [
    /Password|Otp|Token|Credential|Subnet|Secret|Passkey|Webauthn|Certificate|ExternalAccount|Recovery/,
    'credential',
  ],
  [/^Principal|Email|Phone/, 'principal'],
  [/Role|Privilege|Permission|ResourceType|AccessDenied/, 'authorization'],
  [/Audit/, 'accounting'],
];

export const familyOf = (type: string): Family =>
  FAMILY_RULES.find(([pattern]) => pattern.test(type))?.[1] ?? 'other';

type Payload = Readonly<Record<string, unknown>>;

const MAX_SUBJECTS = 16;
const MAX_SUBJECT_LENGTH = 200;
// Names of payload fields that hold a thing's name rather than an `…Id` but identify it.
const NAMED_SUBJECTS = new Set(['privilege', 'resourceType']);

/** The ids an event touches: values of `…Id` / `…Ids` fields, privileges and resource types. */
export const subjectsOf = (data: Payload): string[] => {
  const found = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string' && v.length > 0 && v.length <= MAX_SUBJECT_LENGTH) found.add(v);
  };
  for (const [key, value] of Object.entries(data)) {
    if (key.endsWith('Id') || NAMED_SUBJECTS.has(key)) add(value);
    else if (key.endsWith('Ids') && Array.isArray(value)) value.forEach(add);
  }
  // Sorted: the stored order must not depend on the order of keys in the payload's JSON.
  return [...found].sort().slice(0, MAX_SUBJECTS);
};

const clip = (s: string, max = 120): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
const str = (v: unknown): string => (typeof v === 'string' ? clip(v) : String(v ?? ''));
const list = (v: unknown): string =>
  Array.isArray(v) && v.length > 0 ? v.map((x) => str(x)).join(', ') : 'none';
const because = (reason: unknown): string =>
  typeof reason === 'string' && reason !== '' ? `: ${clip(reason)}` : '';
const changed = (fields: Payload, hidden: readonly string[] = []): string =>
  Object.keys(fields)
    .filter((k) => !hidden.includes(k))
    .sort()
    .join(', ') || 'nothing';

type Summarize = (d: Payload) => string;

const pii = (d: Payload): Payload =>
  typeof d.pii === 'object' && d.pii !== null ? (d.pii as Payload) : {};

const SUMMARIES: Readonly<Record<string, Summarize>> = {
  PrincipalRegistered: (d) =>
    `registered ${str(d.kind)} ${str(d.principalId)}${
      typeof d.source === 'object' && d.source !== null
        ? ` from directory ${str((d.source as Payload).directoryId)}`
        : ''
    }`,
  PrincipalProfileChanged: (d) =>
    `changed ${changed(pii(d), ['emailKey'])} of principal ${str(d.principalId)}`,
  PrincipalDeactivated: (d) => `deactivated principal ${str(d.principalId)}${because(d.reason)}`,
  PrincipalActivated: (d) => `activated principal ${str(d.principalId)}`,
  PrincipalDeleted: (d) => `deleted principal ${str(d.principalId)}`,
  IdentityDirectoryDefined: (d) =>
    `defined identity directory ${str(d.directoryId)} (${str(d.name)})`,
  IdentityDirectoryChanged: (d) =>
    `changed ${changed(d, ['directoryId', 'key'])} of identity directory ${str(d.directoryId)}`,
  // The login name is what an auditor searches for ("who gave alice a login?").
  IdentityAdded: (d) =>
    `added identity ${str(pii(d).name)} in ${str(d.directoryId)} to principal ${str(d.principalId)}`,
  IdentityRemoved: (d) => `removed identity ${str(d.identityId)}`,
  AccessTokenIssued: (d) =>
    `issued access token ${str(d.credentialId)} (${str(d.name)}) to ${str(d.principalId)}, expires ${str(d.expiresAt)}${
      Array.isArray(d.subnets) && d.subnets.length > 0 ? `, only from ${list(d.subnets)}` : ''
    }`,
  DirectoryAccountLinked: (d) =>
    `linked ${str(d.principalId)} to entry ${str(d.entryId)} of directory ${str(d.directoryId)}`,
  // The provider's subject, not its address or login name (those stay in the pii sub-object).
  ExternalAccountLinked: (d) =>
    `linked ${str(d.principalId)} to account ${str(d.subject)} of ${str(d.issuer)} (directory ${str(d.directoryId)}, by ${str(d.via)})`,
  ExternalRolesObserved: (d) =>
    `directory ${str(d.directoryId)} puts ${str(d.principalId)} in groups: ${list(d.groupKeys)}`,
  RecoveryCodesGenerated: (d) =>
    `generated ${Array.isArray(d.hashes) ? d.hashes.length : 0} recovery codes (${str(d.credentialId)}) for ${str(d.principalId)}`,
  RecoveryCodeUsed: (d) =>
    `used recovery code ${typeof d.index === 'number' ? d.index + 1 : '?'} of ${str(d.credentialId)}${
      typeof d.sessionId === 'string' ? ` for session ${d.sessionId}` : ''
    }`,
  CredentialRevoked: (d) => `revoked credential ${str(d.credentialId)}${because(d.reason)}`,
  // The rule's kind only: a subject or SAN names a person (an e-mail address).
  CertificateRegistered: (d) => {
    const m = typeof d.match === 'object' && d.match !== null ? (d.match as Payload) : {};
    return `registered certificate ${str(d.credentialId)} (${str(d.name)}) for ${str(d.principalId)}, matched by ${
      m.kind === 'fingerprint' ? `fingerprint ${str(m.sha256).slice(0, 16)}…` : str(m.kind)
    }${typeof d.issuerCaSha256 === 'string' ? `, CA ${d.issuerCaSha256.slice(0, 16)}…` : ''}`;
  },
  CertificateFingerprintRevoked: (d) =>
    `revoked certificate fingerprint ${str(d.sha256).slice(0, 16)}…${because(d.reason)}`,
  // The authenticator's model (AAGUID) and whether it syncs; never the key.
  PasskeyRegistered: (d) =>
    `registered passkey ${str(d.credentialId)} (${str(d.name)}) for ${str(d.principalId)}, authenticator ${str(d.aaguid)}${
      d.backupEligible === true ? ', synced' : ', device-bound'
    }`,
  PasskeyUsed: (d) =>
    `used passkey ${str(d.credentialId)} with counter ${str(d.counter)}${
      typeof d.sessionId === 'string' ? ` for session ${d.sessionId}` : ''
    }`,
  PrivilegeDefined: (d) => `defined privilege ${str(d.privilege)}`,
  ResourceTypeDefined: (d) =>
    `defined resource type ${str(d.resourceType)} (actions: ${list(d.actions)})`,
  RoleDirectoryDefined: (d) =>
    `defined role directory ${str(d.directoryId)} (${str(d.name)}), requires evidence: ${list(d.requiredEvidences)}${
      d.phishingResistant === true ? ', phishing-resistant' : ''
    }`,
  RoleDirectoryChanged: (d) =>
    `role directory ${str(d.directoryId)} now requires evidence: ${list(d.requiredEvidences)}`,
  RoleDefined: (d) =>
    `defined role ${str(d.roleId)} (${str(d.name)}) in ${str(d.directoryId)}${
      typeof d.parentId === 'string' ? `, parent ${d.parentId}` : ''
    }`,
  RoleChanged: (d) =>
    `changed role ${str(d.roleId)}:${d.name !== undefined ? ` name ${str(d.name)}` : ''}${
      d.parentId !== undefined ? ` parent ${d.parentId === null ? 'none' : str(d.parentId)}` : ''
    }`,
  RoleDeleted: (d) => `deleted role ${str(d.roleId)}`,
  RolePrivilegeSet: (d) =>
    `${str(d.effect)} privilege ${str(d.privilege)} on role ${str(d.roleId)}`,
  RoleModelPermissionSet: (d) =>
    `${str(d.effect)} ${str(d.action)} on every ${str(d.resourceType)} on role ${str(d.roleId)}`,
  ObjectPermissionSet: (d) =>
    `${str(d.effect)} ${str(d.action)} on ${str(d.resourceType)} ${str(d.objectId)} on role ${str(d.roleId)}`,
  RoleMembershipGranted: (d) => `added ${str(d.principalId)} to role ${str(d.roleId)}`,
  RoleMembershipRevoked: (d) => `removed ${str(d.principalId)} from role ${str(d.roleId)}`,
  AuditRead: (d) => {
    const f = typeof d.filters === 'object' && d.filters !== null ? (d.filters as Payload) : {};
    const parts = Object.keys(f)
      .sort()
      .map((k) => `${k}=${str(f[k])}`);
    return `read the audit trail (${parts.length > 0 ? parts.join(' ') : 'no filter'})`;
  },
  NodeEnrolled: (d) =>
    `enrolled node ${str(d.nodeId)} (key ${str(d.publicKey).slice(0, 8)}…) for ${
      Array.isArray(d.families) ? d.families.join(', ') : ''
    }`,
  NodeRemoved: (d) => `removed node ${str(d.nodeId)} from seq ${str(d.fromSeq)}: ${str(d.reason)}`,
  NodeKeyRotated: (d) => `rotated this node's key to ${str(d.publicKey).slice(0, 8)}…`,
  EquivocationDetected: (d) =>
    `node ${str(d.origin)} signed two different events as seq ${str(d.seq)}`,
  ReplicationRefused: (d) =>
    `refused ${str(d.origin)}:${str(d.seq)} (event ${str(d.eventId)}) from ${str(d.peer)}: ${str(d.reason)}`,
  AccessDenied: (d) =>
    `denied ${str(d.operation)}${typeof d.privilege === 'string' ? `: lacks ${d.privilege}` : ''}${
      typeof d.suppressed === 'number' && d.suppressed > 0
        ? ` (${d.suppressed} earlier denials not recorded)`
        : ''
    }`,
};

// Fields a generic summary may show: ids, and words that are never secret or personal.
const GENERIC_FIELDS = new Set([
  'reason',
  'effect',
  'kind',
  'action',
  'evidence',
  'evidences',
  'factor',
  'factors',
  'method',
  'outcome',
  'status',
  'privilege',
  'resourceType',
  'expiresAt',
  'until',
  'attempts',
  'failures',
  'count',
  'scheme',
]);

const words = (type: string): string =>
  type
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1 $2')
    .toLowerCase();

/** A summary for an event type nobody wrote one for: its name, its ids and allow-listed words. */
export const genericSummary = (type: string, data: Payload): string => {
  const parts: string[] = [];
  for (const key of Object.keys(data).sort()) {
    const v = data[key];
    const shown = key.endsWith('Id') || GENERIC_FIELDS.has(key);
    if (!shown) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      parts.push(`${key}=${str(v)}`);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'))
      parts.push(`${key}=${v.map((x) => str(x)).join(',')}`);
  }
  return parts.length > 0 ? `${words(type)}: ${parts.join(' ')}` : words(type);
};

const MAX_SUMMARY = 500;

/** The grants an administrative event was allowed by (envelope `authority`), one line: the
 * grant, the role it belongs to, and the actor's role when that inherits it. */
export const allowedByOf = (authority: readonly AuthorityUse[] | undefined): string | null =>
  authority === undefined || authority.length === 0
    ? null
    : clip(
        authority
          .map(
            (u) => `${u.grant} of ${u.grantedBy}${u.role === u.grantedBy ? '' : ` via ${u.role}`}`,
          )
          .join('; '),
        MAX_SUMMARY,
      );

export const summaryOf = (type: string, data: Payload): string =>
  clip((SUMMARIES[type] ?? ((d: Payload) => genericSummary(type, d)))(data), MAX_SUMMARY);
