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
import { numOrNull, str, stringList, strOrNull } from '../src/readmodel/rows.ts';

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
    // Passkeys (WebAuthn credentials): public key and facts from registration; `counter` is a max
    // register of the signature counter (registration's and every accepted use's).
    `CREATE TABLE passkey_credentials (
      id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, directory_id TEXT NOT NULL,
      name TEXT NOT NULL, webauthn_id TEXT NOT NULL, user_handle TEXT NOT NULL,
      public_key TEXT NOT NULL, algorithm INTEGER NOT NULL, aaguid TEXT NOT NULL,
      transports TEXT NOT NULL, backup_eligible INTEGER NOT NULL, backed_up INTEGER NOT NULL,
      discoverable INTEGER, counter INTEGER NOT NULL, valid_until TEXT,
      revoked INTEGER NOT NULL DEFAULT 0, revoked_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX passkey_credentials_principal ON passkey_credentials (principal_id)',
    'CREATE INDEX passkey_credentials_webauthn ON passkey_credentials (webauthn_id)',
    // Recovery codes: a principal's sets (the latest generation by HLC is the live one) and each
    // set's codes as argon2id hashes; a code's first use is kept (earliest HLC).
    `CREATE TABLE recovery_sets (
      id TEXT PRIMARY KEY, principal_id TEXT NOT NULL, directory_id TEXT NOT NULL,
      size INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, revoked_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX recovery_sets_principal ON recovery_sets (principal_id, created_hlc)',
    `CREATE TABLE recovery_codes (
      set_id TEXT NOT NULL, idx INTEGER NOT NULL, hash TEXT NOT NULL, used_hlc TEXT,
      PRIMARY KEY (set_id, idx)) WITHOUT ROWID`,
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
    RecoveryCodesGenerated: (e) => [
      sql(
        `INSERT INTO recovery_sets (id, principal_id, directory_id, size, created_hlc, created_by, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        e.data.credentialId,
        e.data.principalId,
        e.data.directoryId,
        e.data.hashes.length,
        e.hlc,
        e.actor,
        e.origin,
      ),
      ...e.data.hashes.map((hash, idx) =>
        sql(
          'INSERT INTO recovery_codes (set_id, idx, hash) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
          e.data.credentialId,
          idx,
          hash,
        ),
      ),
    ],
    RecoveryCodeUsed: (e) => [
      sql(
        'UPDATE recovery_codes SET used_hlc = ? WHERE set_id = ? AND idx = ? AND (used_hlc IS NULL OR used_hlc > ?)',
        e.hlc,
        e.data.credentialId,
        e.data.index,
        e.hlc,
      ),
    ],
    PasskeyRegistered: (e) => [
      sql(
        `INSERT INTO passkey_credentials (id, principal_id, directory_id, name, webauthn_id,
           user_handle, public_key, algorithm, aaguid, transports, backup_eligible, backed_up,
           discoverable, counter, valid_until, created_hlc, created_by, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        e.data.credentialId,
        e.data.principalId,
        e.data.directoryId,
        e.data.name,
        e.data.webauthnId,
        e.data.userHandle,
        e.data.publicKey,
        e.data.algorithm,
        e.data.aaguid,
        JSON.stringify(e.data.transports),
        e.data.backupEligible ? 1 : 0,
        e.data.backedUp ? 1 : 0,
        e.data.discoverable === null ? null : e.data.discoverable ? 1 : 0,
        e.data.counter,
        e.data.validUntil,
        e.hlc,
        e.actor,
        e.origin,
      ),
    ],
    // Whatever order uses arrive in, the counter is the highest accepted anywhere.
    PasskeyUsed: (e) => [
      maxUpdate('passkey_credentials', { id: e.data.credentialId }, 'counter', e.data.counter),
    ],
    CredentialRevoked: (e) => [
      terminalSet(
        'passkey_credentials',
        { id: e.data.credentialId },
        'revoked',
        'revoked_hlc',
        e.hlc,
      ),
      terminalSet('recovery_sets', { id: e.data.credentialId }, 'revoked', 'revoked_hlc', e.hlc),
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

export const recoverySetRevocable = (read: Reader, id: string): RevocableRecord | undefined => {
  const r = read.get('SELECT principal_id, revoked FROM recovery_sets WHERE id = ?', id);
  return r && { principalId: str(r, 'principal_id'), revoked: Number(r.revoked) === 1 };
};

// Recovery codes

export type RecoveryCode = {
  readonly index: number;
  readonly hash: string;
  /** When it was used (the first use's HLC time), or null. */
  readonly usedAt: string | null;
};
export type RecoverySet = {
  readonly id: string;
  readonly principalId: string;
  readonly directoryId: string;
  readonly revoked: boolean;
  readonly createdAt: string;
  readonly codes: readonly RecoveryCode[];
};

const recoverySet = (read: Reader, r: SqlRow): RecoverySet => {
  const id = str(r, 'id');
  return {
    id,
    principalId: str(r, 'principal_id'),
    directoryId: str(r, 'directory_id'),
    revoked: Number(r.revoked) === 1,
    createdAt: new Date(hlcWallMs(str(r, 'created_hlc'))).toISOString(),
    codes: read
      .all('SELECT idx, hash, used_hlc FROM recovery_codes WHERE set_id = ? ORDER BY idx', id)
      .map((c) => {
        const used = strOrNull(c, 'used_hlc');
        return {
          index: Number(c.idx),
          hash: str(c, 'hash'),
          usedAt: used === null ? null : new Date(hlcWallMs(used)).toISOString(),
        };
      }),
  };
};

const SET_COLUMNS = 'id, principal_id, directory_id, revoked, created_hlc';

/** The principal's latest set of recovery codes (HLC order, then id), revoked or not: a set made
 * later anywhere replaces it, and revoking the latest revives none of the older ones. */
export const latestRecoverySet = (read: Reader, principalId: string): RecoverySet | undefined => {
  const r = read.get(
    `SELECT ${SET_COLUMNS} FROM recovery_sets WHERE principal_id = ?
     ORDER BY created_hlc DESC, id DESC LIMIT 1`,
    principalId,
  );
  return r && recoverySet(read, r);
};

/** Every set of the principal's recovery codes, oldest first. */
export const recoverySetsOf = (read: Reader, principalId: string): RecoverySet[] =>
  read
    .all(
      `SELECT ${SET_COLUMNS} FROM recovery_sets WHERE principal_id = ? ORDER BY created_hlc, id`,
      principalId,
    )
    .map((r) => recoverySet(read, r));

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

// Passkeys

export type PasskeyRecord = {
  readonly id: string;
  readonly principalId: string;
  readonly directoryId: string;
  readonly name: string;
  /** The authenticator's credential id, base64url. */
  readonly webauthnId: string;
  readonly userHandle: string;
  /** COSE_Key, base64url. */
  readonly publicKey: string;
  readonly algorithm: number;
  readonly aaguid: string;
  readonly transports: string[];
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  readonly discoverable: boolean | null;
  /** The highest signature counter seen anywhere (registration's or a use's). */
  readonly counter: number;
  readonly validUntil: string | null;
  readonly revoked: boolean;
  readonly createdAt: string;
};

const passkeyRecord = (r: SqlRow): PasskeyRecord => ({
  id: str(r, 'id'),
  principalId: str(r, 'principal_id'),
  directoryId: str(r, 'directory_id'),
  name: str(r, 'name'),
  webauthnId: str(r, 'webauthn_id'),
  userHandle: str(r, 'user_handle'),
  publicKey: str(r, 'public_key'),
  algorithm: Number(r.algorithm),
  aaguid: str(r, 'aaguid'),
  transports: stringList(r, 'transports'),
  backupEligible: Number(r.backup_eligible) === 1,
  backedUp: Number(r.backed_up) === 1,
  discoverable: r.discoverable == null ? null : Number(r.discoverable) === 1,
  counter: Number(r.counter),
  validUntil: strOrNull(r, 'valid_until'),
  revoked: Number(r.revoked) === 1,
  createdAt: createdAt(r),
});

export const getPasskeyRecord = (read: Reader, id: string): PasskeyRecord | undefined => {
  const r = read.get('SELECT * FROM passkey_credentials WHERE id = ?', id);
  return r && passkeyRecord(r);
};

/** Every passkey of a principal (revoked ones too), oldest first. */
export const passkeyRecordsOf = (read: Reader, principalId: string): PasskeyRecord[] =>
  read
    .all(
      'SELECT * FROM passkey_credentials WHERE principal_id = ? ORDER BY created_hlc, id',
      principalId,
    )
    .map(passkeyRecord);

/** The unrevoked passkey with this authenticator credential id: the earliest registered, should
 * two sites have registered one id at once (ids are random, so only a forged registration can
 * collide, and its key signs nothing of the real authenticator's). */
export const passkeyByWebAuthnId = (
  read: Reader,
  webauthnId: string,
): PasskeyRecord | undefined => {
  const r = read.get(
    `SELECT * FROM passkey_credentials WHERE webauthn_id = ? AND revoked = 0
     ORDER BY created_hlc, id LIMIT 1`,
    webauthnId,
  );
  return r && passkeyRecord(r);
};

/** Whether any passkey, revoked or not, was registered with this authenticator credential id. */
export const webauthnIdRegistered = (read: Reader, webauthnId: string): boolean =>
  read.get('SELECT 1 AS found FROM passkey_credentials WHERE webauthn_id = ?', webauthnId) !==
  undefined;

export const unrevokedPasskeyCount = (read: Reader, principalId: string): number =>
  Number(
    read.get(
      'SELECT COUNT(*) AS n FROM passkey_credentials WHERE principal_id = ? AND revoked = 0',
      principalId,
    )?.n ?? 0,
  );
