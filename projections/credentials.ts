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
import type { Projection } from '../src/readmodel/projection.ts';
import { sql } from '../src/readmodel/projection.ts';
import {
  createOrMerge,
  duplicateCreation,
  earliestUpdate,
  type LwwRegister,
  lwwUpdate,
  terminalSet,
} from '../src/readmodel/registers.ts';
import { GENESIS_HLC } from './principals.ts';

/** Well-known credential directories, seeded identically on every node. */
export const PASSWORD_DIRECTORY = 'password';
export const OTP_DIRECTORY = 'otp';
export const SUBNET_DIRECTORY = 'subnet';
export const GATEWAY_DIRECTORY = 'gateway';
/** How long evidence counts by default: 12 hours (NIST SP 800-63B 7.2, AAL2 reauthentication). */
export const DEFAULT_EVIDENCE_LIFETIME_S = 12 * 3600;

const SEEDED: readonly (readonly [string, string, string])[] = [
  [PASSWORD_DIRECTORY, 'password', 'knowledge'],
  [OTP_DIRECTORY, 'otp', 'ownership'],
  [SUBNET_DIRECTORY, 'subnet', 'location'],
  [GATEWAY_DIRECTORY, 'gateway', 'trust'],
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
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE credentials (
      id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, directory_id TEXT NOT NULL, kind TEXT NOT NULL,
      secret TEXT, secret_hlc TEXT, changed_hlc TEXT,
      valid_from TEXT, valid_until TEXT, validity_hlc TEXT,
      revoked INTEGER NOT NULL DEFAULT 0, revoked_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX credentials_principal ON credentials (principal_id, directory_id)',
  ],
  seed: SEEDED.map(([id, kind, evidence]) =>
    sql(
      `INSERT INTO credential_directories (id, name, key, name_hlc, kind, evidences, evidences_hlc,
        lifetime_seconds, lifetime_hlc, created_hlc, created_by, origin)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'system', 'genesis')`,
      id,
      id,
      id,
      GENESIS_HLC,
      kind,
      JSON.stringify([evidence]),
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
      return regs.length === 0
        ? []
        : [lwwUpdate('credential_directories', { id: directoryId }, regs, e.hlc)];
    },
    PasswordSet: (e) => {
      const { credentialId, principalId, directoryId, hash, rehash, validFrom, validUntil } =
        e.data;
      return [
        sql(
          `INSERT INTO credentials (id, principal_id, directory_id, kind, created_hlc, created_by, origin)
           VALUES (?, ?, ?, 'password', ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
          credentialId,
          principalId,
          directoryId,
          e.hlc,
          e.actor,
          e.origin,
        ),
        earliestUpdate(
          'credentials',
          { id: credentialId },
          [{ hlcColumn: 'created_hlc', values: { created_by: e.actor, origin: e.origin } }],
          e.hlc,
        ),
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
