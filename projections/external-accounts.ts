// Social and OpenID Connect logins (issue 18 item 4): the settings of `oidc` credential
// directories, and the external accounts linked to principals. The credential row of a link (its
// principal, directory, revocation) is in credentials.ts like every credential's; here are what
// only these have.
//
// Registers (DESIGN.md section 5): a directory's settings are one LWW register (canonical JSON,
// RFC 8785, so every node stores the same text). A link's facts never change after creation, its
// revocation is terminal, and an external account (directory, issuer + subject) is a unique
// claim: among live links of one account the earliest by (HLC, event id) holds it, the others are
// `conflict` and log nobody in. Two sites registering the same account while cut off write the
// same ids (src/authn/external-login.ts), so their links merge into one row instead of competing.
import { hlcWallMs } from '../src/clock/hlc.ts';
import type { EventPayload } from '../src/events/catalogue.ts';
import { canonicalJson } from '../src/events/signature.ts';
import { type Projection, type Reader, type SqlRow, sql } from '../src/readmodel/projection.ts';
import {
  type ClaimTable,
  claimRecompute,
  lwwUpdate,
  terminalSet,
} from '../src/readmodel/registers.ts';
import { str, strOrNull } from '../src/readmodel/rows.ts';

export type OidcSettings = NonNullable<EventPayload<'CredentialDirectoryDefined'>['oidc']>;

const accountClaims: ClaimTable = {
  table: 'external_accounts',
  idColumn: 'credential_id',
  keyColumns: ['directory_id', 'account_key'],
  live: 'revoked = 0',
  hlcColumn: 'created_hlc',
  eventColumn: 'event_id',
  statusColumn: 'status',
};

const settingsUpsert = (directoryId: string, settings: OidcSettings, hlc: string) => [
  sql(
    `INSERT INTO oidc_directories (id, settings, settings_hlc) VALUES (?, ?, ?)
     ON CONFLICT (id) DO NOTHING`,
    directoryId,
    canonicalJson(settings),
    hlc,
  ),
  lwwUpdate(
    'oidc_directories',
    { id: directoryId },
    [{ hlcColumn: 'settings_hlc', values: { settings: canonicalJson(settings) } }],
    hlc,
  ),
];

export const externalAccounts: Projection = {
  name: 'external-accounts',
  ddl: [
    `CREATE TABLE oidc_directories (
      id TEXT PRIMARY KEY, settings TEXT NOT NULL, settings_hlc TEXT NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE external_accounts (
      credential_id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, directory_id TEXT NOT NULL,
      account_key TEXT NOT NULL, issuer TEXT NOT NULL, subject TEXT NOT NULL, via TEXT NOT NULL,
      label TEXT, status TEXT NOT NULL DEFAULT 'held',
      revoked INTEGER NOT NULL DEFAULT 0, revoked_hlc TEXT,
      created_hlc TEXT NOT NULL, event_id TEXT NOT NULL, created_by TEXT NOT NULL,
      origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX external_accounts_key ON external_accounts (directory_id, account_key)',
    'CREATE INDEX external_accounts_principal ON external_accounts (principal_id)',
  ],
  // A link that lost the account to an earlier one (two principals linked to one external account
  // at two sites at once): listed for review, like a name two sites claimed.
  conflicts: [
    `SELECT 'unique-external-account', 'account:' || x.directory_id || ':' || x.account_key,
       x.credential_id,
       (SELECT w.credential_id FROM external_accounts w WHERE w.directory_id = x.directory_id
          AND w.account_key = x.account_key AND w.status = 'held'),
       'linked to ' || x.principal_id, x.created_hlc
     FROM external_accounts x WHERE x.status = 'conflict'`,
  ],
  handlers: {
    CredentialDirectoryDefined: (e) =>
      e.data.oidc === undefined ? [] : settingsUpsert(e.data.directoryId, e.data.oidc, e.hlc),
    CredentialDirectoryChanged: (e) =>
      e.data.oidc === undefined ? [] : settingsUpsert(e.data.directoryId, e.data.oidc, e.hlc),
    // Ids derived from the account (registration) make two sites' links one row: the earliest
    // creation's facts stay (the same on every node whichever arrives first).
    ExternalAccountLinked: (e) => {
      const d = e.data;
      return [
        sql(
          `INSERT INTO external_accounts (credential_id, principal_id, directory_id, account_key,
             issuer, subject, via, label, created_hlc, event_id, created_by, origin)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (credential_id) DO UPDATE SET
             via = excluded.via, label = excluded.label, created_hlc = excluded.created_hlc,
             event_id = excluded.event_id, created_by = excluded.created_by, origin = excluded.origin
           WHERE excluded.created_hlc < external_accounts.created_hlc`,
          d.credentialId,
          d.principalId,
          d.directoryId,
          d.accountKey,
          d.issuer,
          d.subject,
          d.via,
          d.pii.label,
          e.hlc,
          e.id,
          e.actor,
          e.origin,
        ),
        claimRecompute(accountClaims, [d.directoryId, d.accountKey]),
      ];
    },
    CredentialRevoked: (e, read) => {
      const r = read.get(
        'SELECT directory_id, account_key FROM external_accounts WHERE credential_id = ?',
        e.data.credentialId,
      );
      if (r === undefined) return [];
      return [
        terminalSet(
          'external_accounts',
          { credential_id: e.data.credentialId },
          'revoked',
          'revoked_hlc',
          e.hlc,
        ),
        claimRecompute(accountClaims, [str(r, 'directory_id'), str(r, 'account_key')]),
      ];
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Queries

/** The settings of an `oidc` credential directory; undefined for any other. */
export const oidcSettingsOf = (read: Reader, directoryId: string): OidcSettings | undefined => {
  const r = read.get('SELECT settings FROM oidc_directories WHERE id = ?', directoryId);
  return r ? (JSON.parse(str(r, 'settings')) as OidcSettings) : undefined;
};

export type ExternalAccount = {
  readonly credentialId: string;
  readonly principalId: string;
  readonly directoryId: string;
  readonly issuer: string;
  readonly subject: string;
  readonly via: string;
  readonly label: string | null;
  /** `held`: it logs its principal in; `conflict`: another link of the same account came first. */
  readonly status: string;
  readonly revoked: boolean;
  readonly createdAt: string;
};

const accountView = (r: SqlRow): ExternalAccount => ({
  credentialId: str(r, 'credential_id'),
  principalId: str(r, 'principal_id'),
  directoryId: str(r, 'directory_id'),
  issuer: str(r, 'issuer'),
  subject: str(r, 'subject'),
  via: str(r, 'via'),
  label: strOrNull(r, 'label'),
  status: str(r, 'status'),
  revoked: Number(r.revoked) === 1,
  createdAt: new Date(hlcWallMs(str(r, 'created_hlc'))).toISOString(),
});

const COLUMNS =
  'credential_id, principal_id, directory_id, issuer, subject, via, label, status, revoked, created_hlc';

/** The live link that holds an external account (the earliest claim), whoever it links to. */
export const externalAccountHolder = (
  read: Reader,
  directoryId: string,
  accountKey: string,
): ExternalAccount | undefined => {
  const r = read.get(
    `SELECT ${COLUMNS} FROM external_accounts
     WHERE directory_id = ? AND account_key = ? AND revoked = 0 AND status = 'held'`,
    directoryId,
    accountKey,
  );
  return r && accountView(r);
};

/** Whether a link of this account to this principal exists at all (revoked ones too). */
export const externalLinkExisted = (read: Reader, credentialId: string): boolean =>
  read.get('SELECT 1 AS found FROM external_accounts WHERE credential_id = ?', credentialId) !==
  undefined;

/** Every external account of a principal (revoked ones too), by creation. */
export const externalAccountsOf = (read: Reader, principalId: string): ExternalAccount[] =>
  read
    .all(
      `SELECT ${COLUMNS} FROM external_accounts WHERE principal_id = ?
       ORDER BY created_hlc, credential_id`,
      principalId,
    )
    .map(accountView);

/** One link by its credential id. */
export const externalAccount = (
  read: Reader,
  credentialId: string,
): ExternalAccount | undefined => {
  const r = read.get(
    `SELECT ${COLUMNS} FROM external_accounts WHERE credential_id = ?`,
    credentialId,
  );
  return r && accountView(r);
};
