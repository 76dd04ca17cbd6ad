// Passwords: the rules a new password must follow and argon2id hashing.
// - argon2id with the OWASP Password Storage Cheat Sheet parameters as the floor: m=19456 KiB,
//   t=2, p=1 (ASVS 5.0 V11.4.2, NIST SP 800-63B 5.1.1.2 "memory-hard function").
//   Stored only as the standard PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (salt 16
//   random bytes), parameters in the order the PHC string format and libargon2 fix (m,t,p), so
//   the reference CLI and other libraries read our hashes and hashes can move between systems
//   (OWASP Password Storage Cheat Sheet, "upgrading legacy hashes"). The argon2 package computes;
//   @phc/format writes the string, because argon2 0.45.1 writes `m,p,t` (ranisalt/node-argon2#559),
//   which argon2-cffi and the reference implementation refuse. Hashes written in that order still
//   verify and are rewritten at the next successful login (needsRehash).
// - NFKC normalization before hashing and counting, so the same password typed on another
//   keyboard or OS verifies (NIST SP 800-63B 5.1.1.2: "SHOULD apply NFKC or NFKD").
// - 8 to 1024 characters counted in Unicode code points, every printable character and spaces
//   allowed, no composition rules (NIST SP 800-63B 5.1.1.2; ASVS 2.1.1, 2.1.2, 2.1.9).
// - Refused when on a list of commonly used passwords (NIST SP 800-63B 5.1.1.2; ASVS 2.1.7): the
//   49,233-entry `passwords-common` list of @zxcvbn-ts/language-common (MIT; built by the zxcvbn
//   project from public password-leak frequency lists), compared case-insensitively.
// - A deployment's policy (`PasswordPolicy`, AUTHLOG_PASSWORD_*; auth-config.ts) sets the minimum
//   (never below 8: NIST SP 800-63B rev 4 3.1.1.2 "SHALL require passwords to be a minimum of
//   eight characters"; 15 when a password is the only factor is the rev 4 SHALL, left to the
//   deployment), the maximum (at least 64: rev 4 "SHOULD permit a maximum … of at least 64"),
//   the common-password list on or off, and a list of its own (names of the organisation, its
//   products, leaked passwords it knows of). There are no composition rules and no forced
//   rotation, on purpose: rev 4 3.1.1.2 "SHALL NOT impose other composition rules" and "SHALL NOT
//   require subscribers to change passwords periodically" (only on evidence of compromise).

import { randomBytes } from 'node:crypto';
import { deserialize, serialize } from '@phc/format';
import { dictionary } from '@zxcvbn-ts/language-common';
import * as argon2 from 'argon2';
import { invalid } from '../errors.ts';

export type Argon2Params = {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
};

/** The OWASP floor; configuration may ask for more, never less. */
export const ARGON2_FLOOR: Argon2Params = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** The least any policy may ask (NIST SP 800-63B rev 4 3.1.1.2), and the most any may allow. */
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 1024;
/** A policy's maximum is at least this (rev 4 3.1.1.2: "SHOULD permit … at least 64"). */
export const MIN_MAXIMUM = 64;

/** How a blocklist entry and a candidate are compared: NFKC, then lower case. */
export const blocklistKey = (password: string): string => password.normalize('NFKC').toLowerCase();

const common: ReadonlySet<string> = new Set(dictionary['passwords-common'].map(blocklistKey));

export const isCommonPassword = (password: string): boolean => common.has(blocklistKey(password));

/** What a new password must be (a deployment's settings: auth-config.ts). */
export type PasswordPolicy = {
  readonly minLength: number;
  readonly maxLength: number;
  /** The built-in list of commonly used passwords. */
  readonly commonBlocklist: boolean;
  /** The deployment's own list (AUTHLOG_PASSWORD_BLOCKLIST_FILE), as `blocklistKey`s. */
  readonly blocklist: ReadonlySet<string>;
};

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = {
  minLength: MIN_PASSWORD,
  maxLength: MAX_PASSWORD,
  commonBlocklist: true,
  blocklist: new Set(),
};

/** The password as it is hashed: NFKC-normalized. Throws VALIDATION_FAILED on a rule broken. */
export const checkNewPassword = (
  password: string,
  policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY,
  field = 'password',
): string => {
  const normalized = password.normalize('NFKC');
  const length = [...normalized].length;
  if (length < policy.minLength)
    throw invalid(field, `must be at least ${policy.minLength} characters`);
  if (length > policy.maxLength)
    throw invalid(field, `must be at most ${policy.maxLength} characters`);
  // Control, formatting, private-use and line/paragraph-separator characters cannot be typed
  // reliably and hide in logs and terminals; any other Unicode, spaces included, is accepted
  // (NIST SP 800-63B 5.1.1.2).
  if (/[\p{Cc}\p{Cf}\p{Cs}\p{Cn}\p{Co}\p{Zl}\p{Zp}]/u.test(normalized))
    throw invalid(
      field,
      'must not contain control, formatting, private-use, line-separator or unassigned characters',
    );
  const key = blocklistKey(normalized);
  if ((policy.commonBlocklist && common.has(key)) || policy.blocklist.has(key))
    throw invalid(field, 'is a commonly used or forbidden password; choose another');
  return normalized;
};

export const parseArgon2Params = (raw: string): Argon2Params | undefined => {
  const m = /^m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,2})$/.exec(raw.trim());
  if (!m) return undefined;
  return { memoryCost: Number(m[1]), timeCost: Number(m[2]), parallelism: Number(m[3]) };
};

export const belowFloor = (p: Argon2Params): boolean =>
  p.memoryCost < ARGON2_FLOOR.memoryCost ||
  p.timeCost < ARGON2_FLOOR.timeCost ||
  p.parallelism < ARGON2_FLOOR.parallelism;

/** Refuses parameters below the floor: what an app is built with (`config.auth.argon2`) passes
 * here once, and is then handed to every hash it makes (no module-level setting, so two apps in
 * one process hash with their own). */
export const checkArgon2Params = (p: Argon2Params): Argon2Params => {
  if (belowFloor(p)) throw new Error('argon2 parameters below the OWASP floor m=19456,t=2,p=1');
  return p;
};

const ARGON2_VERSION = 0x13;
const SALT_BYTES = 16;

/** Hashes an already normalized password (see checkNewPassword) into a standard PHC string. */
export const hashPassword = async (normalized: string, params: Argon2Params): Promise<string> => {
  const salt = randomBytes(SALT_BYTES);
  const hash = await argon2.hash(normalized, {
    type: argon2.argon2id,
    version: ARGON2_VERSION,
    ...params,
    salt,
    raw: true,
  });
  return serialize({
    id: 'argon2id',
    version: ARGON2_VERSION,
    // Key order is the string's order: m, t, p as the PHC string format requires.
    params: { m: params.memoryCost, t: params.timeCost, p: params.parallelism },
    salt,
    hash,
  });
};

/**
 * True when `phc` is an argon2id PHC string exactly as the standard writes it: version 19, the
 * parameters m,t,p in that order and nothing else, unpadded base64 salt and hash.
 */
export const isStandardPhc = (phc: string): boolean => {
  try {
    const { id, version, params, salt, hash } = deserialize(phc);
    if (id !== 'argon2id' || version !== ARGON2_VERSION || !params || !salt || !hash) return false;
    if (Object.keys(params).join(',') !== 'm,t,p') return false;
    return serialize({ id, version, params, salt, hash }) === phc;
  } catch {
    return false;
  }
};

/** Verifies a presented password (normalized here) against a PHC string; false on any error. */
export const verifyPassword = async (phc: string, presented: string): Promise<boolean> => {
  if (presented.length > MAX_PASSWORD * 4) return false;
  try {
    return await argon2.verify(phc, presented.normalize('NFKC'));
  } catch {
    return false;
  }
};

/**
 * True when a hash was made with other parameters than `params` (the configured ones), or is not
 * written as a standard PHC string (an older authlog wrote `m,p,t`): either way the next
 * successful login stores a fresh standard hash (OWASP Password Storage Cheat Sheet, "upgrading
 * the work factor").
 */
export const needsRehash = (phc: string, params: Argon2Params): boolean => {
  if (!isStandardPhc(phc)) return true;
  return argon2.needsRehash(phc, { ...params, version: ARGON2_VERSION });
};

// One dummy hash per parameter set in use (a cache, not configuration: a process has one or two).
const dummies = new Map<string, Promise<string>>();

/**
 * A hash of a random password with `params` (the configured ones). Verifying against it when the
 * identity is unknown (or has no password) costs what a real verification costs, so the answer's
 * timing does not tell whether the identity exists (OWASP ASVS 2.2.1 / Authentication Cheat
 * Sheet "Authentication responses").
 */
export const dummyHash = (params: Argon2Params): Promise<string> => {
  const key = `${params.memoryCost},${params.timeCost},${params.parallelism}`;
  let dummy = dummies.get(key);
  if (!dummy) {
    dummy = hashPassword(crypto.randomUUID(), params);
    dummies.set(key, dummy);
  }
  return dummy;
};
