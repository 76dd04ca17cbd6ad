// Credentials. Access tokens are stored by the hash of their secret; revocation is terminal (a
// revoked token cannot be revived, issue a new one). Expiry is a property of the token, checked
// at use, so every node agrees without an event.
//
// Credential directories (a kind and the evidences it provides) and the other credentials live
// in `credential_directories` and `credentials`: every credential has a principal, a directory,
// a validity window (an LWW register) and terminal revocation. Its secret (a password's argon2id
// PHC string) is an LWW register; `changed_hlc` is the latest set that was not a mere rehash, so
// a session can tell whether the password changed since it elevated. Kind-specific state (OTP
// seeds, subnets) lives in the tables of that kind, keyed by the credential id.
import { hlcWallMs } from '../src/clock/hlc.ts';
import type { EventPayload } from '../src/events/catalogue.ts';
import type { Envelope } from '../src/events/envelope.ts';
import { canonicalJson } from '../src/events/signature.ts';
import type { Projection, Reader, SqlRow } from '../src/readmodel/projection.ts';
import { sql } from '../src/readmodel/projection.ts';
import {
  createOrMerge,
  duplicateCreation,
  earliestUpdate,
  type LwwRegister,
  lwwUpdate,
  terminalSet,
} from '../src/readmodel/registers.ts';
import { str, stringList, strOrNull } from '../src/readmodel/rows.ts';
import { GENESIS_HLC } from './principals.ts';

/** Well-known credential directories, seeded identically on every node. */
export const PASSWORD_DIRECTORY = 'password';
export const OTP_DIRECTORY = 'otp';
export const SUBNET_DIRECTORY = 'subnet';
export const GATEWAY_DIRECTORY = 'gateway';
export const CERTIFICATE_DIRECTORY = 'certificate';
export const PASSKEY_DIRECTORY = 'passkey';
export const RECOVERY_DIRECTORY = 'recovery';
/** How long evidence counts by default: 12 hours (NIST SP 800-63B 7.2, AAL2 reauthentication). */
export const DEFAULT_EVIDENCE_LIFETIME_S = 12 * 3600;

/** Id, kind, then the evidences it gives (sorted, as the projection stores them). */
const SEEDED: readonly (readonly [string, string, ...string[]])[] = [
  [PASSWORD_DIRECTORY, 'password', 'knowledge'],
  [OTP_DIRECTORY, 'otp', 'ownership'],
  [SUBNET_DIRECTORY, 'subnet', 'location'],
  [GATEWAY_DIRECTORY, 'gateway', 'trust'],
  [CERTIFICATE_DIRECTORY, 'certificate', 'trust'],
  // Inherence only when the authenticator verified its user (src/authn/passkeys.ts).
  [PASSKEY_DIRECTORY, 'passkey', 'inherence', 'ownership'],
  [RECOVERY_DIRECTORY, 'recovery', 'ownership'],
];

/** The LDAP settings as one register, in canonical JSON (RFC 8785) so every node stores the
 * same text. */
const ldapRegister = (ldap: EventPayload<'CredentialDirectoryDefined'>['ldap']): LwwRegister[] =>
  ldap === undefined ? [] : [{ hlcColumn: 'ldap_hlc', values: { ldap: canonicalJson(ldap) } }];

/** A credential's row, whichever site's creation arrives first: creation facts are the earliest's
 * (ids of directory accounts derive from their entry, so two sites create the same one). */
const credentialCreated = (
  e: Envelope,
  c: { readonly credentialId: string; readonly principalId: string; readonly directoryId: string },
  kind: 'password' | 'ldap' | 'oidc',
) => [
  sql(
    `INSERT INTO credentials (id, principal_id, directory_id, kind, created_hlc, created_by, origin)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    c.credentialId,
    c.principalId,
    c.directoryId,
    kind,
    e.hlc,
    e.actor,
    e.origin,
  ),
  earliestUpdate(
    'credentials',
    { id: c.credentialId },
    [{ hlcColumn: 'created_hlc', values: { created_by: e.actor, origin: e.origin } }],
    e.hlc,
  ),
];

export const credentials: Projection = {
  name: 'credentials',
  ddl: [
    `CREATE TABLE access_tokens (
      id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, name TEXT NOT NULL,
      secret_hash TEXT NOT NULL, expires_at TEXT NOT NULL, subnets TEXT NOT NULL,
      revoked INTEGER NOT NULL DEFAULT 0, revoked_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX access_tokens_hash ON access_tokens (secret_hash)',
    'CREATE INDEX access_tokens_principal ON access_tokens (principal_id)',
    `CREATE TABLE credential_directories (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, key TEXT NOT NULL, name_hlc TEXT NOT NULL,
      kind TEXT NOT NULL, evidences TEXT NOT NULL, evidences_hlc TEXT NOT NULL,
      lifetime_seconds INTEGER NOT NULL, lifetime_hlc TEXT NOT NULL,
      ldap TEXT, ldap_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE credentials (
      id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, directory_id TEXT NOT NULL, kind TEXT NOT NULL,
      secret TEXT, secret_hlc TEXT, changed_hlc TEXT,
      valid_from TEXT, valid_until TEXT, validity_hlc TEXT,
      revoked INTEGER NOT NULL DEFAULT 0, revoked_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX credentials_principal ON credentials (principal_id, directory_id)',
    // Accounts in external directories: the credential id derives from (directory, entry), so the
    // row is the same whichever site linked it first.
    `CREATE TABLE directory_accounts (
      credential_id TEXT PRIMARY KEY, directory_id TEXT NOT NULL, entry_id TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX directory_accounts_entry ON directory_accounts (directory_id, entry_id)',
  ],
  seed: SEEDED.map(([id, kind, ...evidences]) =>
    sql(
      `INSERT INTO credential_directories (id, name, key, name_hlc, kind, evidences, evidences_hlc,
        lifetime_seconds, lifetime_hlc, created_hlc, created_by, origin)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'system', 'genesis')`,
      id,
      id,
      id,
      GENESIS_HLC,
      kind,
      JSON.stringify(evidences),
      GENESIS_HLC,
      DEFAULT_EVIDENCE_LIFETIME_S,
      GENESIS_HLC,
      GENESIS_HLC,
    ),
  ),
  handlers: {
    // Directory ids are chosen by clients: defined twice at once under one id, the row merges
    // register by register and the collision is listed (createOrMerge).
    CredentialDirectoryDefined: (e, read) => {
      const before = read.get(
        'SELECT created_hlc, origin FROM credential_directories WHERE id = ?',
        e.data.directoryId,
      );
      return [
        createOrMerge(
          {
            table: 'credential_directories',
            key: { id: e.data.directoryId },
            lww: [
              { hlcColumn: 'name_hlc', values: { name: e.data.name, key: e.data.key } },
              {
                hlcColumn: 'evidences_hlc',
                values: { evidences: JSON.stringify([...e.data.evidences].sort()) },
              },
              {
                hlcColumn: 'lifetime_hlc',
                values: { lifetime_seconds: e.data.evidenceLifetimeSeconds },
              },
              ...ldapRegister(e.data.ldap),
            ],
            earliest: [
              {
                hlcColumn: 'created_hlc',
                values: { kind: e.data.kind, created_by: e.actor, origin: e.origin },
              },
            ],
          },
          e.hlc,
        ),
        ...(before
          ? [
              duplicateCreation(
                'credential-directory',
                e.data.directoryId,
                { hlc: before.created_hlc ?? null, origin: before.origin ?? null },
                e,
              ),
            ]
          : []),
      ];
    },
    CredentialDirectoryChanged: (e) => {
      const { directoryId, name, key, evidences, evidenceLifetimeSeconds } = e.data;
      const regs: LwwRegister[] = [];
      if (name !== undefined && key !== undefined)
        regs.push({ hlcColumn: 'name_hlc', values: { name, key } });
      if (evidences !== undefined)
        regs.push({
          hlcColumn: 'evidences_hlc',
          values: { evidences: JSON.stringify([...evidences].sort()) },
        });
      if (evidenceLifetimeSeconds !== undefined)
        regs.push({
          hlcColumn: 'lifetime_hlc',
          values: { lifetime_seconds: evidenceLifetimeSeconds },
        });
      regs.push(...ldapRegister(e.data.ldap));
      return regs.length === 0
        ? []
        : [lwwUpdate('credential_directories', { id: directoryId }, regs, e.hlc)];
    },
    PasswordSet: (e) => {
      const { credentialId, principalId, directoryId, hash, rehash, validFrom, validUntil } =
        e.data;
      return [
        ...credentialCreated(e, { credentialId, principalId, directoryId }, 'password'),
        lwwUpdate(
          'credentials',
          { id: credentialId },
          [
            { hlcColumn: 'secret_hlc', values: { secret: hash } },
            // A rehash keeps the validity window it found.
            ...(rehash
              ? []
              : [
                  {
                    hlcColumn: 'validity_hlc',
                    values: { valid_from: validFrom, valid_until: validUntil },
                  },
                ]),
          ],
          e.hlc,
        ),
        ...(rehash
          ? []
          : [
              sql(
                "UPDATE credentials SET changed_hlc = max(COALESCE(changed_hlc, ''), ?) WHERE id = ?",
                e.hlc,
                credentialId,
              ),
            ]),
      ];
    },
    // A client certificate: the rule it matches is in projections/factors.ts.
    CertificateRegistered: (e) => [
      sql(
        `INSERT INTO credentials (id, principal_id, directory_id, kind, valid_until, validity_hlc,
           created_hlc, created_by, origin)
         VALUES (?, ?, ?, 'certificate', ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        e.data.credentialId,
        e.data.principalId,
        e.data.directoryId,
        e.data.validUntil,
        e.hlc,
        e.hlc,
        e.actor,
        e.origin,
      ),
    ],
    // A passkey: its public key, counter and the rest are in projections/factors.ts.
    PasskeyRegistered: (e) => [
      sql(
        `INSERT INTO credentials (id, principal_id, directory_id, kind, valid_until, validity_hlc,
           created_hlc, created_by, origin)
         VALUES (?, ?, ?, 'passkey', ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        e.data.credentialId,
        e.data.principalId,
        e.data.directoryId,
        e.data.validUntil,
        e.hlc,
        e.hlc,
        e.actor,
        e.origin,
      ),
    ],
    DirectoryAccountLinked: (e) => {
      const { credentialId, principalId, directoryId, entryId } = e.data;
      return [
        ...credentialCreated(e, { credentialId, principalId, directoryId }, 'ldap'),
        sql(
          'INSERT INTO directory_accounts VALUES (?, ?, ?) ON CONFLICT (credential_id) DO NOTHING',
          credentialId,
          directoryId,
          entryId,
        ),
      ];
    },
    // An account at an external OpenID provider: what it is linked by is in external-accounts.ts.
    ExternalAccountLinked: (e) => credentialCreated(e, e.data, 'oidc'),
    AccessTokenIssued: (e) => [
      sql(
        `INSERT INTO access_tokens (id, principal_id, name, secret_hash, expires_at, subnets, created_hlc, created_by, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        e.data.credentialId,
        e.data.principalId,
        e.data.name,
        e.data.secretHash,
        e.data.expiresAt,
        JSON.stringify(e.data.subnets),
        e.hlc,
        e.actor,
        e.origin,
      ),
    ],
    CredentialRevoked: (e) => [
      terminalSet('access_tokens', { id: e.data.credentialId }, 'revoked', 'revoked_hlc', e.hlc),
      terminalSet('credentials', { id: e.data.credentialId }, 'revoked', 'revoked_hlc', e.hlc),
    ],
  },
};

// ---------------------------------------------------------------------------------------------
// Queries (issue 15 item 3): every query on these tables lives here, with typed row mappers.

/** The wall-clock time of an HLC, as ISO 8601. */
const createdAt = (row: SqlRow): string =>
  new Date(hlcWallMs(str(row, 'created_hlc'))).toISOString();

// Credential directories

type DirectoryKind = EventPayload<'CredentialDirectoryDefined'>['kind'];
type EvidenceKind = EventPayload<'CredentialDirectoryDefined'>['evidences'][number];

export type CredentialDirectoryView = {
  readonly id: string;
  readonly name: string;
  readonly kind: DirectoryKind;
  readonly evidences: EvidenceKind[];
  readonly evidenceLifetimeSeconds: number;
  /** Kind `ldap`: how nodes reach it (no secret is ever part of it). */
  readonly ldap?: LdapSettings;
};

const directoryView = (r: SqlRow): CredentialDirectoryView => ({
  ...(typeof r.ldap === 'string' ? { ldap: JSON.parse(r.ldap) as LdapSettings } : {}),
  id: str(r, 'id'),
  name: str(r, 'name'),
  kind: str(r, 'kind') as DirectoryKind,
  evidences: JSON.parse(str(r, 'evidences')) as EvidenceKind[],
  evidenceLifetimeSeconds: Number(r.lifetime_seconds),
});

const DIRECTORY_COLUMNS = 'id, name, kind, evidences, lifetime_seconds, ldap';

export const getCredentialDirectory = (
  read: Reader,
  id: string,
): CredentialDirectoryView | undefined => {
  const r = read.get(`SELECT ${DIRECTORY_COLUMNS} FROM credential_directories WHERE id = ?`, id);
  return r && directoryView(r);
};

export const listCredentialDirectories = (read: Reader): CredentialDirectoryView[] =>
  read
    .all(`SELECT ${DIRECTORY_COLUMNS} FROM credential_directories ORDER BY id`)
    .map(directoryView);

export const credentialDirectoryExists = (read: Reader, id: string): boolean =>
  read.get('SELECT 1 AS found FROM credential_directories WHERE id = ?', id) !== undefined;

// Password credentials

export type PasswordCredential = {
  readonly id: string;
  readonly directoryId: string;
  readonly hash: string;
  readonly validFrom: string | null;
  readonly validUntil: string | null;
};

/** The principal's password credential in a directory: the live one set last (two sites that set
 * a first password at once make two credentials; the later hash wins everywhere). */
export const passwordCredential = (
  read: Reader,
  principalId: string,
  directoryId: string = PASSWORD_DIRECTORY,
): PasswordCredential | undefined => {
  const r = read.get(
    `SELECT id, directory_id, secret, valid_from, valid_until FROM credentials
     WHERE principal_id = ? AND directory_id = ? AND kind = 'password' AND revoked = 0 AND secret IS NOT NULL
     ORDER BY secret_hlc DESC, id DESC LIMIT 1`,
    principalId,
    directoryId,
  );
  return (
    r && {
      id: str(r, 'id'),
      directoryId: str(r, 'directory_id'),
      hash: str(r, 'secret'),
      validFrom: strOrNull(r, 'valid_from'),
      validUntil: strOrNull(r, 'valid_until'),
    }
  );
};

// Accounts in external directories

export type LdapSettings = NonNullable<EventPayload<'CredentialDirectoryDefined'>['ldap']>;

/** The connection settings of an `ldap` credential directory; undefined for any other. */
export const ldapSettingsOf = (read: Reader, directoryId: string): LdapSettings | undefined => {
  const r = read.get(
    "SELECT ldap FROM credential_directories WHERE id = ? AND kind = 'ldap' AND ldap IS NOT NULL",
    directoryId,
  );
  return r ? (JSON.parse(str(r, 'ldap')) as LdapSettings) : undefined;
};

/** Every `ldap` credential directory with its settings, by id. */
export const ldapDirectories = (
  read: Reader,
): { readonly id: string; readonly settings: LdapSettings }[] =>
  read
    .all(
      "SELECT id, ldap FROM credential_directories WHERE kind = 'ldap' AND ldap IS NOT NULL ORDER BY id",
    )
    .map((r) => ({ id: str(r, 'id'), settings: JSON.parse(str(r, 'ldap')) as LdapSettings }));

export type DirectoryAccount = {
  readonly id: string;
  readonly principalId: string;
  readonly directoryId: string;
  readonly entryId: string;
  readonly validFrom: string | null;
  readonly validUntil: string | null;
};

const accountView = (r: SqlRow): DirectoryAccount => ({
  id: str(r, 'id'),
  principalId: str(r, 'principal_id'),
  directoryId: str(r, 'directory_id'),
  entryId: str(r, 'entry_id'),
  validFrom: strOrNull(r, 'valid_from'),
  validUntil: strOrNull(r, 'valid_until'),
});

/** The principal's unrevoked account in an external directory. */
export const directoryAccount = (
  read: Reader,
  principalId: string,
  /** Undefined: in any directory (the first by directory id). */
  directoryId: string | undefined,
): DirectoryAccount | undefined => {
  const r = read.get(
    `SELECT c.id, c.principal_id, c.directory_id, a.entry_id, c.valid_from, c.valid_until
     FROM credentials c JOIN directory_accounts a ON a.credential_id = c.id
     WHERE c.principal_id = ? AND c.directory_id = COALESCE(?, c.directory_id) AND c.kind = 'ldap'
       AND c.revoked = 0
     ORDER BY c.directory_id, c.created_hlc, c.id LIMIT 1`,
    principalId,
    directoryId ?? null,
  );
  return r && accountView(r);
};

/** The unrevoked account linked to a directory's entry, whoever holds it. */
export const accountOfEntry = (
  read: Reader,
  directoryId: string,
  entryId: string,
): DirectoryAccount | undefined => {
  const r = read.get(
    `SELECT c.id, c.principal_id, c.directory_id, a.entry_id, c.valid_from, c.valid_until
     FROM directory_accounts a JOIN credentials c ON c.id = a.credential_id
     WHERE a.directory_id = ? AND a.entry_id = ? AND c.revoked = 0
     ORDER BY c.created_hlc, c.id LIMIT 1`,
    directoryId,
    entryId,
  );
  return r && accountView(r);
};

/** HLC of the principal's latest password change (rehashes excluded), '' if none. */
export const passwordChangedHlc = (read: Reader, principalId: string): string => {
  const r = read.get(
    "SELECT COALESCE(MAX(changed_hlc), '') AS h FROM credentials WHERE principal_id = ? AND kind = 'password'",
    principalId,
  );
  return r ? str(r, 'h') : '';
};

export type PasswordCredentialRecord = {
  readonly id: string;
  readonly directoryId: string;
  readonly createdAt: string;
  readonly validUntil: string | null;
  readonly revoked: boolean;
};

/** Every password credential of a principal (revoked ones too), never the secret. */
/** How many live credentials other than `except` can log the principal in on their own: a
 * password, a directory account, a passkey, an external account or a client certificate. */
export const otherWaysInCount = (
  read: Reader,
  principalId: string,
  except: string,
  nowIso: string,
): number =>
  Number(
    read.get(
      `SELECT COUNT(*) AS n FROM credentials WHERE principal_id = ? AND id != ? AND revoked = 0
         AND kind IN ('password', 'ldap', 'passkey', 'oidc', 'certificate')
         AND (valid_until IS NULL OR valid_until > ?)`,
      principalId,
      except,
      nowIso,
    )?.n ?? 0,
  );

export const passwordCredentialsOf = (
  read: Reader,
  principalId: string,
): PasswordCredentialRecord[] =>
  read
    .all(
      `SELECT id, directory_id, created_hlc, valid_until, revoked FROM credentials
       WHERE principal_id = ? AND kind = 'password'`,
      principalId,
    )
    .map((r) => ({
      id: str(r, 'id'),
      directoryId: str(r, 'directory_id'),
      createdAt: createdAt(r),
      validUntil: strOrNull(r, 'valid_until'),
      revoked: Number(r.revoked) === 1,
    }));

// Access tokens

export type AccessTokenRecord = {
  readonly id: string;
  readonly name: string;
  readonly expiresAt: string;
  /** The CIDR ranges it is bound to (none: any address). */
  readonly subnets: string[];
  readonly createdAt: string;
  readonly revoked: boolean;
};

/** Every access token of a principal (revoked ones too), never the secret's hash. */
export const accessTokensOf = (read: Reader, principalId: string): AccessTokenRecord[] =>
  read
    .all(
      'SELECT id, name, expires_at, subnets, created_hlc, revoked FROM access_tokens WHERE principal_id = ?',
      principalId,
    )
    .map((r) => ({
      id: str(r, 'id'),
      name: str(r, 'name'),
      expiresAt: str(r, 'expires_at'),
      subnets: stringList(r, 'subnets'),
      createdAt: createdAt(r),
      revoked: Number(r.revoked) === 1,
    }));

export type LiveTokenRecord = {
  readonly id: string;
  readonly principalId: string;
  readonly expiresAt: string;
  readonly subnets: string[];
};

/** The unrevoked access token with this secret hash (its principal's state, expiry and subnets are
 * the caller's to check). One query through `access_tokens_hash`. */
export const unrevokedTokenByHash = (
  read: Reader,
  secretHash: string,
): LiveTokenRecord | undefined => {
  const r = read.get(
    `SELECT t.id, t.principal_id, t.expires_at, t.subnets FROM access_tokens t
     WHERE t.secret_hash = ? AND t.revoked = 0`,
    secretHash,
  );
  return (
    r && {
      id: str(r, 'id'),
      principalId: str(r, 'principal_id'),
      expiresAt: str(r, 'expires_at'),
      subnets: stringList(r, 'subnets'),
    }
  );
};

// Revocation (CredentialRevoked ends a credential of any kind: see also projections/factors.ts)

export type RevocableRecord = { readonly principalId: string; readonly revoked: boolean };

const revocableRecord = (r: SqlRow): RevocableRecord => ({
  principalId: str(r, 'principal_id'),
  revoked: Number(r.revoked) === 1,
});

export const accessTokenRevocable = (read: Reader, id: string): RevocableRecord | undefined => {
  const r = read.get('SELECT principal_id, revoked FROM access_tokens WHERE id = ?', id);
  return r && revocableRecord(r);
};

export const credentialRevocable = (read: Reader, id: string): RevocableRecord | undefined => {
  const r = read.get('SELECT principal_id, revoked FROM credentials WHERE id = ?', id);
  return r && revocableRecord(r);
};
