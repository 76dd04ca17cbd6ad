// Credentials. Access tokens are stored by the hash of their secret; revocation is terminal (a
// revoked token cannot be revived, issue a new one). Expiry is a property of the token, checked
// at use, so every node agrees without an event.
import { type Projection, sql } from '../src/readmodel/projection.ts';
import { terminalSet } from '../src/replication/registers.ts';

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
  ],
  handlers: {
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
    ],
  },
};
