// Authentication factors besides passwords and tokens: OTP (TOTP/HOTP), subnet and client
// certificate credentials, and the deny list of revoked certificate fingerprints.
// Registers (DESIGN.md section 5): the enrollment facts never change after creation; `confirmed`
// is a flag that once set stays set (terminal: the earliest HLC is kept); the highest time step
// or counter used is a max register, so a code used at one site is refused at every site once
// the use has replicated; revocation (CredentialRevoked) is terminal.
import { hlcWallMs } from '../src/clock/hlc.ts';
import type { EventPayload } from '../src/events/catalogue.ts';
import { type Projection, type Reader, type SqlRow, sql } from '../src/readmodel/projection.ts';
import { earliestUpdate, maxUpdate, terminalSet } from '../src/readmodel/registers.ts';
import { numOrNull, str, strOrNull } from '../src/readmodel/rows.ts';

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
    // Client certificates: the rule a presented certificate must match (its SHA-256, a subject or
    // a subjectAltName) and the CA it must chain to; the credential row is in credentials.ts.
    `CREATE TABLE certificate_credentials (
      id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, directory_id TEXT NOT NULL,
      name TEXT NOT NULL, match_kind TEXT NOT NULL, match_value TEXT NOT NULL,
      issuer_ca_sha256 TEXT, valid_until TEXT,
      revoked INTEGER NOT NULL DEFAULT 0, revoked_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX certificate_credentials_principal ON certificate_credentials (principal_id)',
    // Revoked fingerprints (a deny list for every principal): the earliest revocation's reason.
    `CREATE TABLE revoked_certificates (
      sha256 TEXT PRIMARY KEY, reason TEXT NOT NULL, revoked_hlc TEXT NOT NULL,
      revoked_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
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
    CertificateRegistered: (e) => {
      const m = e.data.match;
      return [
        sql(
          `INSERT INTO certificate_credentials (id, principal_id, directory_id, name, match_kind,
             match_value, issuer_ca_sha256, valid_until, created_hlc, created_by, origin)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
          e.data.credentialId,
          e.data.principalId,
          e.data.directoryId,
          e.data.name,
          m.kind,
          m.kind === 'fingerprint' ? m.sha256 : m.kind === 'subject' ? m.subject : m.san,
          e.data.issuerCaSha256,
          e.data.validUntil,
          e.hlc,
          e.actor,
          e.origin,
        ),
      ];
    },
    // Terminal, whatever order revocations arrive in: the earliest one's reason is kept.
    CertificateFingerprintRevoked: (e) => [
      sql(
        `INSERT INTO revoked_certificates (sha256, reason, revoked_hlc, revoked_by, origin)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`,
        e.data.sha256,
        e.data.reason,
        e.hlc,
        e.actor,
        e.origin,
      ),
      earliestUpdate(
        'revoked_certificates',
        { sha256: e.data.sha256 },
        [
          {
            hlcColumn: 'revoked_hlc',
            values: { reason: e.data.reason, revoked_by: e.actor, origin: e.origin },
          },
        ],
        e.hlc,
      ),
    ],
    CredentialRevoked: (e) => [
      terminalSet('otp_credentials', { id: e.data.credentialId }, 'revoked', 'revoked_hlc', e.hlc),
      terminalSet(
        'certificate_credentials',
        { id: e.data.credentialId },
        'revoked',
        'revoked_hlc',
        e.hlc,
      ),
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

// ---------------------------------------------------------------------------------------------
// Queries (issue 15 item 3): every query on these tables lives here, with typed row mappers.

const createdAt = (row: SqlRow): string =>
  new Date(hlcWallMs(str(row, 'created_hlc'))).toISOString();

type Otp = EventPayload<'OtpEnrolled'>;

export type OtpRecord = {
  readonly id: string;
  readonly principalId: string;
  readonly directoryId: string;
  readonly name: string;
  readonly kind: Otp['kind'];
  readonly digits: Otp['digits'];
  readonly algorithm: Otp['algorithm'];
  readonly period: number | null;
  readonly counter: number | null;
  /** The sealed seed (src/authn/seed-crypto.ts). */
  readonly seed: Otp['seed'];
  readonly validUntil: string | null;
  readonly confirmed: boolean;
  /** The highest time step or counter used; undefined before the first use. */
  readonly lastStep: number | undefined;
  readonly revoked: boolean;
  readonly createdAt: string;
};

const otpRecord = (r: SqlRow): OtpRecord => ({
  id: str(r, 'id'),
  principalId: str(r, 'principal_id'),
  directoryId: str(r, 'directory_id'),
  name: str(r, 'name'),
  kind: r.kind === 'hotp' ? 'hotp' : 'totp',
  digits: Number(r.digits) === 8 ? 8 : 6,
  algorithm: r.algorithm === 'sha256' || r.algorithm === 'sha512' ? r.algorithm : 'sha1',
  period: numOrNull(r, 'period'),
  counter: numOrNull(r, 'counter'),
  seed: JSON.parse(str(r, 'seed')) as Otp['seed'],
  validUntil: strOrNull(r, 'valid_until'),
  confirmed: Number(r.confirmed) === 1,
  lastStep: r.last_step == null ? undefined : Number(r.last_step),
  revoked: Number(r.revoked) === 1,
  createdAt: createdAt(r),
});

export const getOtpRecord = (read: Reader, id: string): OtpRecord | undefined => {
  const r = read.get('SELECT * FROM otp_credentials WHERE id = ?', id);
  return r && otpRecord(r);
};

/** Every OTP credential of a principal (revoked ones too), in id order. */
export const otpRecordsOf = (read: Reader, principalId: string): OtpRecord[] =>
  read
    .all('SELECT * FROM otp_credentials WHERE principal_id = ? ORDER BY id', principalId)
    .map(otpRecord);

export const unrevokedOtpCount = (read: Reader, principalId: string): number =>
  Number(
    read.get(
      'SELECT COUNT(*) AS n FROM otp_credentials WHERE principal_id = ? AND revoked = 0',
      principalId,
    )?.n ?? 0,
  );

export type SubnetRecord = {
  readonly id: string;
  readonly principalId: string;
  readonly directoryId: string;
  readonly name: string;
  readonly cidrs: string[];
  readonly validUntil: string | null;
  readonly revoked: boolean;
  readonly createdAt: string;
};

const subnetRecord = (r: SqlRow): SubnetRecord => {
  const cidrs: unknown = JSON.parse(str(r, 'cidrs'));
  return {
    id: str(r, 'id'),
    principalId: str(r, 'principal_id'),
    directoryId: str(r, 'directory_id'),
    name: str(r, 'name'),
    cidrs:
      Array.isArray(cidrs) && cidrs.every((x): x is string => typeof x === 'string') ? cidrs : [],
    validUntil: strOrNull(r, 'valid_until'),
    revoked: Number(r.revoked) === 1,
    createdAt: createdAt(r),
  };
};

export const getSubnetRecord = (read: Reader, id: string): SubnetRecord | undefined => {
  const r = read.get('SELECT * FROM subnet_credentials WHERE id = ?', id);
  return r && subnetRecord(r);
};

/** Every subnet credential of a principal (revoked ones too), in id order. */
export const subnetRecordsOf = (read: Reader, principalId: string): SubnetRecord[] =>
  read
    .all('SELECT * FROM subnet_credentials WHERE principal_id = ? ORDER BY id', principalId)
    .map(subnetRecord);

/** A principal's unrevoked subnet credentials, in id order. */
export const unrevokedSubnetsOf = (read: Reader, principalId: string): SubnetRecord[] =>
  read
    .all(
      'SELECT * FROM subnet_credentials WHERE principal_id = ? AND revoked = 0 ORDER BY id',
      principalId,
    )
    .map(subnetRecord);

// Revocation (CredentialRevoked ends a credential of any kind: see also projections/credentials.ts)

export type RevocableRecord = { readonly principalId: string; readonly revoked: boolean };

export const otpRevocable = (read: Reader, id: string): RevocableRecord | undefined => {
  const r = read.get('SELECT principal_id, revoked FROM otp_credentials WHERE id = ?', id);
  return r && { principalId: str(r, 'principal_id'), revoked: Number(r.revoked) === 1 };
};

export const subnetRevocable = (read: Reader, id: string): RevocableRecord | undefined => {
  const r = read.get('SELECT principal_id, revoked FROM subnet_credentials WHERE id = ?', id);
  return r && { principalId: str(r, 'principal_id'), revoked: Number(r.revoked) === 1 };
};

// Client certificates

type CertificateMatch = EventPayload<'CertificateRegistered'>['match'];

export type CertificateRecord = {
  readonly id: string;
  readonly principalId: string;
  readonly directoryId: string;
  readonly name: string;
  readonly match: CertificateMatch;
  readonly issuerCaSha256: string | null;
  readonly validUntil: string | null;
  readonly revoked: boolean;
  readonly createdAt: string;
};

const certificateMatch = (r: SqlRow): CertificateMatch => {
  const value = str(r, 'match_value');
  const kind = str(r, 'match_kind');
  return kind === 'fingerprint'
    ? { kind, sha256: value }
    : kind === 'subject'
      ? { kind, subject: value }
      : { kind: 'san', san: value };
};

const certificateRecord = (r: SqlRow): CertificateRecord => ({
  id: str(r, 'id'),
  principalId: str(r, 'principal_id'),
  directoryId: str(r, 'directory_id'),
  name: str(r, 'name'),
  match: certificateMatch(r),
  issuerCaSha256: strOrNull(r, 'issuer_ca_sha256'),
  validUntil: strOrNull(r, 'valid_until'),
  revoked: Number(r.revoked) === 1,
  createdAt: createdAt(r),
});

/** Every certificate credential of a principal (revoked ones too), in id order. */
export const certificateRecordsOf = (read: Reader, principalId: string): CertificateRecord[] =>
  read
    .all('SELECT * FROM certificate_credentials WHERE principal_id = ? ORDER BY id', principalId)
    .map(certificateRecord);

/** A principal's unrevoked certificate credentials, in id order. */
export const unrevokedCertificatesOf = (read: Reader, principalId: string): CertificateRecord[] =>
  read
    .all(
      'SELECT * FROM certificate_credentials WHERE principal_id = ? AND revoked = 0 ORDER BY id',
      principalId,
    )
    .map(certificateRecord);

/** Which of `fingerprints` (SHA-256 hex of certificates) are revoked. */
export const revokedFingerprints = (
  read: Reader,
  fingerprints: readonly string[],
): ReadonlySet<string> => {
  const found = new Set<string>();
  for (const sha256 of new Set(fingerprints))
    if (read.get('SELECT 1 AS found FROM revoked_certificates WHERE sha256 = ?', sha256))
      found.add(sha256);
  return found;
};
