// Authentication settings, from the environment (AUTHLOG_SESSION_*, AUTHLOG_LOCKOUT_*,
// AUTHLOG_ARGON2). Defaults follow NIST SP 800-63B 7.2 and OWASP ASVS 3.3 at AAL2 / level 2:
// reauthentication at least every 12 hours, and after 30 minutes of inactivity.
import { readFileSync } from 'node:fs';
import {
  ARGON2_FLOOR,
  type Argon2Params,
  belowFloor,
  blocklistKey,
  DEFAULT_PASSWORD_POLICY,
  MAX_PASSWORD,
  MIN_MAXIMUM,
  MIN_PASSWORD,
  type PasswordPolicy,
  parseArgon2Params,
} from './passwords.ts';

export type AuthConfig = {
  /** Inactivity after which a session stops working (NIST SP 800-63B 7.2: 30 min at AAL2). */
  readonly idleTimeoutS: number;
  /** Absolute session lifetime (NIST SP 800-63B 7.2: 12 h at AAL2; ASVS 3.3.2). */
  readonly absoluteTimeoutS: number;
  /** How long an elevation (sudo mode) lasts, separate from the session. */
  readonly elevationS: number;
  /** At most one replicated SessionTouched per session per this many seconds. */
  readonly touchIntervalS: number;
  /** Consecutive failures that lock an account (NIST SP 800-63B 5.2.2 allows at most 100). */
  readonly lockoutThreshold: number;
  /** The first lockout's duration; each further lockout doubles it, up to `lockoutMaxS`. */
  readonly lockoutBaseS: number;
  readonly lockoutMaxS: number;
  readonly argon2: Argon2Params;
  /** What a new password must be (AUTHLOG_PASSWORD_*; passwords.ts). */
  readonly passwordPolicy: PasswordPolicy;
  /** Self-service registration (POST /v1/auth/register): off unless `open` (AUTHLOG_REGISTRATION). */
  readonly registration: 'closed' | 'open';
  /** Lifetime of an email verification token (AUTHLOG_VERIFY_TOKEN_TTL, default 24 h). */
  readonly verifyTokenS: number;
  /** Lifetime of a password reset token (AUTHLOG_RESET_TOKEN_TTL, default 30 min). */
  readonly resetTokenS: number;
  /** Where mail is left for the operator's mailer (`<dataDir>/outbox`); null: no mail, so no
   * registration or reset. */
  readonly outboxDir: string | null;
};

export const defaultAuthConfig: AuthConfig = {
  idleTimeoutS: 30 * 60,
  absoluteTimeoutS: 12 * 3600,
  elevationS: 15 * 60,
  touchIntervalS: 5 * 60,
  lockoutThreshold: 10,
  lockoutBaseS: 60,
  lockoutMaxS: 24 * 3600,
  argon2: ARGON2_FLOOR,
  passwordPolicy: DEFAULT_PASSWORD_POLICY,
  registration: 'closed',
  verifyTokenS: 24 * 3600,
  resetTokenS: 30 * 60,
  outboxDir: null,
};

const DURATION = /^(\d{1,7})(s|m|h|d)$/;
const UNIT = { s: 1, m: 60, h: 3600, d: 86400 } as const;

export const parseDuration = (raw: string): number | undefined => {
  const m = DURATION.exec(raw.trim());
  return m ? Number(m[1]) * UNIT[m[2] as keyof typeof UNIT] : undefined;
};

/** A deployment's blocklist file is at most this big: it is held in memory. */
const MAX_BLOCKLIST_BYTES = 64 * 1024 * 1024;

/** One password a line (UTF-8); blank lines and lines starting with `#` are skipped. */
const readBlocklist = (path: string, problems: string[]): ReadonlySet<string> => {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_BLOCKLIST_BYTES) {
      problems.push(`AUTHLOG_PASSWORD_BLOCKLIST_FILE: ${path} is larger than 64 MiB`);
      return new Set();
    }
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    const why =
      err instanceof TypeError ? 'not UTF-8' : ((err as NodeJS.ErrnoException).code ?? String(err));
    problems.push(`AUTHLOG_PASSWORD_BLOCKLIST_FILE: cannot read ${path} (${why})`);
    return new Set();
  }
  const entries = text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map(blocklistKey);
  if (entries.length === 0)
    problems.push(`AUTHLOG_PASSWORD_BLOCKLIST_FILE: ${path} lists no password`);
  return new Set(entries);
};

/** The password policy (passwords.ts); a setting out of bounds refuses to start. */
export const parsePasswordPolicy = (
  get: (name: string) => string | undefined,
  problems: string[],
): PasswordPolicy => {
  const d = DEFAULT_PASSWORD_POLICY;
  const length = (name: string, fallback: number, min: number, why: string): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^\d{1,4}$/.test(raw.trim()) || n < min || n > MAX_PASSWORD) {
      problems.push(`${name} must be a whole number from ${min} to ${MAX_PASSWORD} (${why})`);
      return fallback;
    }
    return n;
  };
  const minLength = length(
    'AUTHLOG_PASSWORD_MIN_LENGTH',
    d.minLength,
    MIN_PASSWORD,
    'never below 8: NIST SP 800-63B rev 4 3.1.1.2',
  );
  const maxLength = length(
    'AUTHLOG_PASSWORD_MAX_LENGTH',
    d.maxLength,
    MIN_MAXIMUM,
    'at least 64: NIST SP 800-63B rev 4 3.1.1.2',
  );
  if (minLength > maxLength)
    problems.push(
      `AUTHLOG_PASSWORD_MIN_LENGTH (${minLength}) is above AUTHLOG_PASSWORD_MAX_LENGTH (${maxLength})`,
    );
  const listRaw = get('AUTHLOG_PASSWORD_BLOCKLIST');
  let commonBlocklist = d.commonBlocklist;
  if (listRaw === 'on' || listRaw === 'off') commonBlocklist = listRaw === 'on';
  else if (listRaw !== undefined) problems.push('AUTHLOG_PASSWORD_BLOCKLIST must be on or off');
  const file = get('AUTHLOG_PASSWORD_BLOCKLIST_FILE');
  const blocklist = file === undefined || file === '' ? d.blocklist : readBlocklist(file, problems);
  return { minLength, maxLength, commonBlocklist, blocklist };
};

/** Reads the settings; every problem is pushed to `problems` (see config.ts). */
export const parseAuthConfig = (
  get: (name: string) => string | undefined,
  problems: string[],
): AuthConfig => {
  const duration = (name: string, fallback: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const s = parseDuration(raw);
    if (s === undefined || s < min || s > max) {
      problems.push(`${name} must be a duration like 30m or 12h, between ${min}s and ${max}s`);
      return fallback;
    }
    return s;
  };
  const d = defaultAuthConfig;
  const thresholdRaw = get('AUTHLOG_LOCKOUT_THRESHOLD');
  let lockoutThreshold = d.lockoutThreshold;
  if (thresholdRaw !== undefined) {
    lockoutThreshold = Number(thresholdRaw);
    if (!/^\d{1,3}$/.test(thresholdRaw) || lockoutThreshold < 1 || lockoutThreshold > 100) {
      problems.push('AUTHLOG_LOCKOUT_THRESHOLD must be 1 to 100 (NIST SP 800-63B 5.2.2)');
      lockoutThreshold = d.lockoutThreshold;
    }
  }
  let argon2 = d.argon2;
  const argonRaw = get('AUTHLOG_ARGON2');
  if (argonRaw !== undefined) {
    const p = parseArgon2Params(argonRaw);
    if (!p || belowFloor(p))
      problems.push(
        'AUTHLOG_ARGON2 must be m=<KiB>,t=<passes>,p=<lanes>, at least m=19456,t=2,p=1',
      );
    else argon2 = p;
  }
  const registrationRaw = get('AUTHLOG_REGISTRATION');
  let registration = d.registration;
  if (registrationRaw === 'open' || registrationRaw === 'closed') registration = registrationRaw;
  else if (registrationRaw !== undefined)
    problems.push('AUTHLOG_REGISTRATION must be open or closed');
  return {
    idleTimeoutS: duration('AUTHLOG_SESSION_IDLE', d.idleTimeoutS, 60, 7 * 86400),
    absoluteTimeoutS: duration('AUTHLOG_SESSION_ABSOLUTE', d.absoluteTimeoutS, 300, 365 * 86400),
    elevationS: duration('AUTHLOG_ELEVATION', d.elevationS, 60, 86400),
    touchIntervalS: d.touchIntervalS,
    lockoutThreshold,
    lockoutBaseS: duration('AUTHLOG_LOCKOUT_DURATION', d.lockoutBaseS, 1, 86400),
    lockoutMaxS: d.lockoutMaxS,
    argon2,
    passwordPolicy: parsePasswordPolicy(get, problems),
    registration,
    verifyTokenS: duration('AUTHLOG_VERIFY_TOKEN_TTL', d.verifyTokenS, 300, 30 * 86400),
    resetTokenS: duration('AUTHLOG_RESET_TOKEN_TTL', d.resetTokenS, 60, 86400),
    outboxDir: d.outboxDir,
  };
};
