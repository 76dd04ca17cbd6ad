// Authentication factors besides passwords and tokens: OTP (TOTP/HOTP) and subnet credentials.
// Registers (DESIGN.md section 5): the enrollment facts never change after creation; `confirmed`
// is a flag that once set stays set (terminal: the earliest HLC is kept); the highest time step
// or counter used is a max register, so a code used at one site is refused at every site once
// the use has replicated; revocation (CredentialRevoked) is terminal.
import { type Projection, sql } from '../src/readmodel/projection.ts';
import { maxUpdate, terminalSet } from '../src/readmodel/registers.ts';

export const factors: Projection = {
  name: 'factors',
  ddl: [
    `CREATE TABLE otp_credentials (
      id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, directory_id TEXT NOT NULL,
      kind TEXT NOT NULL, name TEXT NOT NULL, digits INTEGER NOT NULL, algorithm TEXT NOT NULL,
      period INTEGER, counter INTEGER, seed TEXT NOT NULL, valid_until TEXT,
      confirmed INTEGER NOT NULL DEFAULT 0, confirmed_hlc TEXT,
      last_step INTEGER,
      revoked INTEGER NOT NULL DEFAULT 0, revoked_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX otp_credentials_principal ON otp_credentials (principal_id)',
    `CREATE TABLE subnet_credentials (
      id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, directory_id TEXT NOT NULL,
      name TEXT NOT NULL, cidrs TEXT NOT NULL, valid_until TEXT,
      revoked INTEGER NOT NULL DEFAULT 0, revoked_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX subnet_credentials_principal ON subnet_credentials (principal_id)',
  ],
  handlers: {
    // Credential ids are generated (ULIDs), so two sites never create the same one.
    OtpEnrolled: (e) => [
      sql(
        `INSERT INTO otp_credentials (id, principal_id, directory_id, kind, name, digits, algorithm,
           period, counter, seed, valid_until, created_hlc, created_by, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        e.data.credentialId,
        e.data.principalId,
        e.data.directoryId,
        e.data.kind,
        e.data.name,
        e.data.digits,
        e.data.algorithm,
        e.data.period,
        e.data.counter,
        JSON.stringify(e.data.seed),
        e.data.validUntil,
        e.hlc,
        e.actor,
        e.origin,
      ),
    ],
    OtpConfirmed: (e) => [
      terminalSet(
        'otp_credentials',
        { id: e.data.credentialId },
        'confirmed',
        'confirmed_hlc',
        e.hlc,
      ),
    ],
    OtpUsed: (e) => [
      maxUpdate('otp_credentials', { id: e.data.credentialId }, 'last_step', e.data.step),
    ],
    SubnetAllowed: (e) => [
      sql(
        `INSERT INTO subnet_credentials (id, principal_id, directory_id, name, cidrs, valid_until,
           created_hlc, created_by, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        e.data.credentialId,
        e.data.principalId,
        e.data.directoryId,
        e.data.name,
        JSON.stringify(e.data.cidrs),
        e.data.validUntil,
        e.hlc,
        e.actor,
        e.origin,
      ),
    ],
    CredentialRevoked: (e) => [
      terminalSet('otp_credentials', { id: e.data.credentialId }, 'revoked', 'revoked_hlc', e.hlc),
      terminalSet(
        'subnet_credentials',
        { id: e.data.credentialId },
        'revoked',
        'revoked_hlc',
        e.hlc,
      ),
    ],
  },
};
