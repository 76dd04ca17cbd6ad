// One-time passwords: TOTP (RFC 6238, authenticator apps) and HOTP (RFC 4226, hardware tokens),
// through otplib. Enrollment seals the seed (seed-crypto.ts) and answers the otpauth:// URI once;
// the first valid code confirms the credential, and only confirmed, live credentials give
// `ownership` evidence (NIST SP 800-63B 5.1.4 / 5.1.5, OTP devices).
//
// Replay (NIST SP 800-63B 5.1.4.2: "the verifier SHALL accept a given time-based OTP only once";
// RFC 6238 5.2; RFC 4226 7.5 counter resynchronisation): the decide that accepts a code records
// the time step or counter in an `OtpUsed` event, and a code is accepted only for a step above
// the highest one used. The writer queue serializes decides, so of two parallel submissions of
// one code exactly one wins; the used step is a max register, so once the use has replicated,
// every site refuses the code too. Two sites cut off from each other can each accept one code:
// the use names its session, and once they exchange the later use's session ends on every node
// (projections/sessions.ts `secret_uses`, docs/single-use.md).
import { ScureBase32Plugin, verifySync } from 'otplib';
import {
  getOtpRecord,
  type OtpRecord,
  otpRecordsOf,
  unrevokedOtpCount,
} from '../../projections/factors.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError, invalid } from '../errors.ts';
import type { DomainEvent, EventPayload } from '../events/catalogue.ts';
import { text } from '../events/normalize.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { directoryAllowed, type EvidenceProvider, type Method } from './evidence.ts';
import {
  credentialDirectory,
  credentialOwner,
  evidenceOf,
  isLive,
  OTP_DIRECTORY,
  validUntil as parseValidUntil,
} from './factors.ts';
import { decryptSeed, type EncryptedSeed, type Keyring } from './seed-crypto.ts';

export type OtpKind = 'totp' | 'hotp';
export type OtpAlgorithm = 'sha1' | 'sha256' | 'sha512';
export type OtpDigits = 6 | 8;

/** TOTP: the current time step and one on either side, for clock drift and the time it takes to
 * type a code (RFC 6238 5.2 recommends at most one step backward; we accept one forward too). */
export const TOTP_WINDOW_STEPS = 1;
/** HOTP: codes up to this many counter values ahead resynchronise the counter (RFC 4226 7.4,
 * look-ahead parameter s), for presses of the token's button that never reached us. */
export const HOTP_LOOK_AHEAD = 10;
/** 160-bit seeds (RFC 4226 4: at least 128 bits, 160 recommended). */
export const SEED_BYTES = 20;
/** More than this many OTP credentials per principal is a mistake, not a need. */
export const MAX_OTP_PER_PRINCIPAL = 10;

const base32 = new ScureBase32Plugin();
export const seedToBase32 = (seed: Uint8Array): string => base32.encode(seed, { padding: false });

/** A given seed is at least 128 bits (RFC 4226 section 4: "MUST be at least 128 bits", 160
 * recommended) and at most 80 bytes (longer keys add nothing to HMAC-SHA1's security). */
export const MIN_SEED_BYTES = 16;
export const MAX_SEED_BYTES = 80;
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Base32 lengths (without padding) that a whole number of bytes encodes to, with the number of
 * padding characters each takes (RFC 4648 section 6: 8, 16, 24, 32 or 40 bits in the last
 * quantum give 2, 4, 5, 7 or 8 characters). */
const PADDING_FOR_REMAINDER: Readonly<Record<number, number>> = { 0: 0, 2: 6, 4: 4, 5: 3, 7: 1 };

/**
 * What is wrong with a base32 seed's form, or undefined when it is one: RFC 4648 section 6
 * alphabet, a length a whole number of bytes encodes to, padding (if any) complete and only at
 * the end, zero pad bits (canonical: section 3.5), 16 to 80 bytes. Only string checks, so nothing
 * a client sends can make decoding throw. Spaces (as apps group seeds in fours) and lower case are
 * accepted, as authenticator apps and token vendors show seeds that way.
 */
export const seedFormProblem = (raw: string): string | undefined => {
  const compact = raw.replace(/[ \t]/g, '').toUpperCase();
  const body = compact.replace(/=+$/, '');
  const sizes = `base32 (RFC 4648) of ${MIN_SEED_BYTES} to ${MAX_SEED_BYTES} bytes`;
  if (!/^[A-Z2-7]*$/.test(body)) return `must be ${sizes}: only A-Z and 2-7`;
  const padding = PADDING_FOR_REMAINDER[body.length % 8];
  if (padding === undefined) return `must be ${sizes}: its length encodes no whole number of bytes`;
  if (compact.length !== body.length && compact.length !== body.length + padding)
    return `must be ${sizes}: its padding does not match its length`;
  const bytes = Math.floor((body.length * 5) / 8);
  if (bytes < MIN_SEED_BYTES) return `must be ${sizes}: at least 128 bits (RFC 4226 section 4)`;
  if (bytes > MAX_SEED_BYTES) return `must be ${sizes}: it is longer`;
  const unusedBits = (body.length * 5) % 8;
  const last = BASE32_ALPHABET.indexOf(body.at(-1) ?? 'A');
  if ((last & ((1 << unusedBits) - 1)) !== 0)
    return `must be ${sizes}: its last character has bits past the last byte`;
  return undefined;
};

/** A base32 seed as an authenticator app or a token vendor gives it; refused unless well formed. */
export const seedFromBase32 = (raw: string): Buffer => {
  const problem = seedFormProblem(raw);
  if (problem !== undefined) throw invalid('secret', problem);
  return Buffer.from(base32.decode(raw.replace(/[ \t=]/g, '').toUpperCase()));
};

export type OtpParams = {
  readonly kind: OtpKind;
  readonly digits: OtpDigits;
  readonly algorithm: OtpAlgorithm;
  /** TOTP step in seconds (null for HOTP). */
  readonly period: number | null;
};

const CODE = /^[0-9]{6}([0-9]{2})?$/;

/**
 * The time step or counter value a code matches, strictly above `after` (the highest one used;
 * undefined: none yet), or undefined. HOTP starts from `firstCounter` when nothing was used.
 * Constant-time comparison inside otplib.
 */
export const matchCode = (
  params: OtpParams,
  seed: Uint8Array,
  code: string,
  at: { readonly now: number; readonly after: number | undefined; readonly firstCounter: number },
): number | undefined => {
  if (!CODE.test(code) || code.length !== params.digits) return undefined;
  if (params.kind === 'totp') {
    const period = params.period ?? 30;
    const result = verifySync({
      strategy: 'totp',
      secret: seed,
      token: code,
      digits: params.digits,
      algorithm: params.algorithm,
      period,
      epoch: Math.floor(at.now / 1000),
      // Periods overlapping [now - period, now + period]: the current step and one either side.
      epochTolerance: TOTP_WINDOW_STEPS * period,
      ...(at.after !== undefined ? { afterTimeStep: at.after } : {}),
    });
    return result.valid && 'timeStep' in result ? result.timeStep : undefined;
  }
  const next = at.after === undefined ? at.firstCounter : at.after + 1;
  const result = verifySync({
    strategy: 'hotp',
    secret: seed,
    token: code,
    digits: params.digits,
    algorithm: params.algorithm,
    counter: next,
    counterTolerance: [0, HOTP_LOOK_AHEAD],
  });
  return result.valid ? next + result.delta : undefined;
};

// ---------------------------------------------------------------------------------------------
// Read model

/** An OTP credential as the read model holds it (projections/factors.ts). */
export type OtpCredential = OtpRecord;

export const getOtpCredential = (state: Reader, id: string): OtpCredential | undefined =>
  getOtpRecord(state, id);

const check = (
  keyring: Keyring,
  c: OtpCredential,
  code: string,
  now: number,
): number | undefined => {
  const seed = decryptSeed(keyring, c.id, c.seed);
  // A seed sealed under a key this node lacks (or tampered with) proves nothing.
  if (!seed) return undefined;
  return matchCode(c, seed, code, { now, after: c.lastStep, firstCounter: c.counter ?? 0 });
};

// ---------------------------------------------------------------------------------------------
// Commands

export type EnrollOtpInput = {
  readonly credentialId: string;
  readonly principalId: string;
  readonly kind: OtpKind;
  readonly name: string;
  readonly digits: OtpDigits;
  readonly algorithm: OtpAlgorithm;
  readonly period: number | null;
  readonly counter: number | null;
  /** Sealed by the caller (random IV: randomness stays out of decide); or, for a seed the
   * client gave that is not well formed, why (`seedFormProblem`), refused by decide in turn. */
  readonly seed: EncryptedSeed | { readonly malformed: string };
  readonly directoryId?: string;
  readonly validUntil?: string;
};

export const enrollOtp = (input: EnrollOtpInput): Command<{ credentialId: string }> => ({
  name: 'EnrollOtp',
  decide(state, meta) {
    const { owner, authority } = credentialOwner(state, meta, input.principalId);
    // A new credential is a credential change: an elevated session (OWASP ASVS 3.7.1).
    requireElevation(meta);
    // Input is judged only after who may enroll: an unelevated caller gets the same refusal
    // whatever it sends, so the route is no oracle for what it would accept, and every refusal
    // for lack of rights is recorded as such (OWASP ASVS 5.0 V8.2: authorization is enforced
    // before the request is acted on). The seed's form is public (docs/http.md), so nothing is
    // hidden from an authorized caller by answering it second.
    const seed = input.seed;
    if ('malformed' in seed) throw invalid('secret', seed.malformed);
    const directory = credentialDirectory(state, input.directoryId ?? OTP_DIRECTORY, 'otp');
    const name = text('name', input.name, 100);
    if (input.kind === 'totp' && (input.period === null || input.counter !== null))
      throw invalid('period', 'a TOTP credential has a period and no counter');
    if (input.kind === 'hotp' && (input.period !== null || input.counter === null))
      throw invalid('counter', 'an HOTP credential has a counter and no period');
    if (unrevokedOtpCount(state, owner.id) >= MAX_OTP_PER_PRINCIPAL)
      throw invalid('principalId', `at most ${MAX_OTP_PER_PRINCIPAL} OTP credentials`);
    const data: EventPayload<'OtpEnrolled'> = {
      credentialId: input.credentialId,
      principalId: owner.id,
      directoryId: directory.id,
      kind: input.kind,
      name,
      digits: input.digits,
      algorithm: input.algorithm,
      period: input.period,
      counter: input.counter,
      seed: { ...seed },
      validUntil: parseValidUntil(input.validUntil, meta.now),
    };
    return {
      events: [{ type: 'OtpEnrolled', data }],
      result: { credentialId: input.credentialId },
      authority,
    };
  },
});

/** The first valid code confirms the credential; that code is used up like any other. */
export const confirmOtp = (
  keyring: Keyring,
  input: { readonly credentialId: string; readonly code: string },
): Command<{ confirmed: true }> => ({
  name: 'ConfirmOtp',
  decide(state, meta) {
    const c = getOtpCredential(state, input.credentialId);
    if (!c) throw new AppError('CREDENTIAL_NOT_FOUND', `no credential ${input.credentialId}`);
    const { authority } = credentialOwner(state, meta, c.principalId);
    if (!isLive(c, meta.now))
      throw new AppError('CREDENTIAL_NOT_LIVE', `credential ${c.id} is revoked or expired`);
    if (c.confirmed) throw new AppError('OTP_ALREADY_CONFIRMED', `credential ${c.id} is confirmed`);
    const step = check(keyring, c, input.code, meta.now);
    if (step === undefined)
      throw new AppError('OTP_CODE_INVALID', 'the code does not match (or was used already)', {
        field: 'code',
      });
    return {
      events: [
        { type: 'OtpConfirmed', data: { credentialId: c.id } },
        { type: 'OtpUsed', data: { credentialId: c.id, step } },
      ],
      result: { confirmed: true },
      authority,
    };
  },
});

// ---------------------------------------------------------------------------------------------
// Evidence

/**
 * `ownership` evidence from a code that matches one of the principal's confirmed, live OTP
 * credentials; the `OtpUsed` event it returns is what makes the code single-use. No code sent:
 * `none`; a code that matches nothing (wrong, used, or for an unconfirmed credential): `failed`.
 */
export const otpProvider = (keyring: Keyring): EvidenceProvider => ({
  method: 'totp',
  decide(context) {
    const code = context.presented.otp;
    if (code === undefined) return 'none';
    for (const c of otpRecordsOf(context.state, context.principalId)) {
      if (!c.confirmed || !isLive(c, context.now) || !directoryAllowed(context, c.directoryId))
        continue;
      const step = check(keyring, c, code, context.now);
      if (step === undefined) continue;
      const sessionId = context.sessionId;
      const events: DomainEvent[] = [
        {
          type: 'OtpUsed',
          data: { credentialId: c.id, step, ...(sessionId !== undefined ? { sessionId } : {}) },
        },
      ];
      const method: Method = c.kind;
      const { evidences, expiresAt } = evidenceOf(
        context.state,
        c.directoryId,
        ['ownership'],
        context.now,
      );
      return { evidences, method, credentialId: c.id, expiresAt, events };
    }
    return 'failed';
  },
});
