// Self-service tokens (email verification, password reset) and verified email addresses.
// Registers (DESIGN.md section 5): a token row is created once by its issue event (the id is the
// SHA-256 of 256 random bits, never issued twice) and never changes but for `used`, a terminal
// flag (the earliest HLC is kept when two sites accept the same token before they hear of each
// other; see docs/http.md). A verified address is a grow-only set of (principal, email key) with
// the earliest HLC, so every order of the same events gives the same rows.
import { type Projection, type Reader, type SqlRow, sql } from '../src/readmodel/projection.ts';
import { terminalSet } from '../src/readmodel/registers.ts';
import { str } from '../src/readmodel/rows.ts';

export const accountTokens: Projection = {
  name: 'account-tokens',
  ddl: [
    `CREATE TABLE account_tokens (
      token_hash TEXT PRIMARY KEY, purpose TEXT NOT NULL, principal_id TEXT NOT NULL,
      email_key TEXT, expires_at TEXT NOT NULL, created_hlc TEXT NOT NULL,
      used INTEGER NOT NULL DEFAULT 0, used_hlc TEXT) WITHOUT ROWID`,
    `CREATE TABLE verified_emails (
      principal_id TEXT NOT NULL, email_key TEXT NOT NULL, verified_hlc TEXT NOT NULL,
      PRIMARY KEY (principal_id, email_key)) WITHOUT ROWID`,
  ],
  handlers: {
    EmailVerificationIssued: (e) => [
      sql(
        `INSERT INTO account_tokens (token_hash, purpose, principal_id, email_key, expires_at, created_hlc)
         VALUES (?, 'verify-email', ?, ?, ?, ?) ON CONFLICT (token_hash) DO NOTHING`,
        e.data.tokenHash,
        e.data.principalId,
        e.data.pii.emailKey,
        e.data.expiresAt,
        e.hlc,
      ),
    ],
    EmailVerified: (e) => [
      terminalSet('account_tokens', { token_hash: e.data.tokenHash }, 'used', 'used_hlc', e.hlc),
      sql(
        `INSERT INTO verified_emails (principal_id, email_key, verified_hlc) VALUES (?, ?, ?)
         ON CONFLICT (principal_id, email_key) DO UPDATE SET verified_hlc = MIN(verified_hlc, excluded.verified_hlc)`,
        e.data.principalId,
        e.data.pii.emailKey,
        e.hlc,
      ),
    ],
    PasswordResetIssued: (e) => [
      sql(
        `INSERT INTO account_tokens (token_hash, purpose, principal_id, email_key, expires_at, created_hlc)
         VALUES (?, 'reset-password', ?, NULL, ?, ?) ON CONFLICT (token_hash) DO NOTHING`,
        e.data.tokenHash,
        e.data.principalId,
        e.data.expiresAt,
        e.hlc,
      ),
    ],
    PasswordResetCompleted: (e) => [
      terminalSet('account_tokens', { token_hash: e.data.tokenHash }, 'used', 'used_hlc', e.hlc),
    ],
  },
};

// Queries on account tokens and verified addresses, with a typed row mapper (AccountToken).

export type AccountTokenPurpose = 'verify-email' | 'reset-password';

export type AccountToken = {
  readonly principalId: string;
  /** The address a verification token verifies; null for a reset token. */
  readonly emailKey: string | null;
  /** ISO 8601. */
  readonly expiresAt: string;
  readonly used: boolean;
  readonly createdHlc: string;
};

const accountTokenOf = (r: SqlRow): AccountToken => ({
  principalId: str(r, 'principal_id'),
  emailKey: r.email_key == null ? null : str(r, 'email_key'),
  expiresAt: str(r, 'expires_at'),
  used: Number(r.used) === 1,
  createdHlc: str(r, 'created_hlc'),
});

/** The token of `purpose` with SHA-256 `tokenHash`, used or not, expired or not. */
export const accountToken = (
  read: Reader,
  tokenHash: string,
  purpose: AccountTokenPurpose,
): AccountToken | undefined => {
  const r = read.get(
    'SELECT principal_id, email_key, expires_at, used, created_hlc FROM account_tokens WHERE token_hash = ? AND purpose = ?',
    tokenHash,
    purpose,
  );
  return r && accountTokenOf(r);
};

/** Whether the principal verified the address with normalized key `emailKey`. */
export const emailKeyVerified = (read: Reader, principalId: string, emailKey: string): boolean =>
  read.get(
    'SELECT 1 AS y FROM verified_emails WHERE principal_id = ? AND email_key = ?',
    principalId,
    emailKey,
  ) !== undefined;
