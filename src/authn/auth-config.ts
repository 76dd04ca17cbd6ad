// Authentication settings, from the environment (AUTHLOG_SESSION_*, AUTHLOG_LOCKOUT_*,
// AUTHLOG_ARGON2). Defaults follow NIST SP 800-63B 7.2 and OWASP ASVS 3.3 at AAL2 / level 2:
// reauthentication at least every 12 hours, and after 30 minutes of inactivity.
import { ARGON2_FLOOR, type Argon2Params, belowFloor, parseArgon2Params } from './passwords.ts';

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
    registration,
    verifyTokenS: duration('AUTHLOG_VERIFY_TOKEN_TTL', d.verifyTokenS, 300, 30 * 86400),
    resetTokenS: duration('AUTHLOG_RESET_TOKEN_TTL', d.resetTokenS, 60, 86400),
    outboxDir: d.outboxDir,
  };
};
