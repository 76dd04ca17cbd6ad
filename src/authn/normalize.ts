// Input normalization and validation for names and contact data. Keys used for uniqueness are
// computed here, at the origin, and carried in events (see events/catalogue.ts).
import { invalid } from '../errors.ts';

// Control, format (incl. bidi overrides and zero-width), surrogate, private-use and unassigned
// code points have no place in names: they enable spoofing and log injection (OWASP ASVS 5.1.4).
const FORBIDDEN_IN_TEXT = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\u2028\u2029]/u;
// Identifiers additionally refuse all white space (PRECIS IdentifierClass, RFC 8264).
const FORBIDDEN_IN_IDENTIFIER = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Z}\s]/u;

const codePoints = (s: string): number => [...s].length;

/** A display text: NFC, trimmed, no control or format characters, 1..max code points. */
export const text = (
  field: string,
  raw: string,
  max: number,
  { optional = false } = {},
): string => {
  const value = raw.normalize('NFC').trim();
  if (value.length === 0 && !optional) throw invalid(field, 'must not be empty');
  if (codePoints(value) > max) throw invalid(field, `must be at most ${max} characters`);
  if (FORBIDDEN_IN_TEXT.test(value))
    throw invalid(field, 'must not contain control or formatting characters');
  return value;
};

/** An identity name and its uniqueness key: NFKC, then case folded (RFC 8265 UsernameCaseMapped). */
export const identityName = (field: string, raw: string): { name: string; key: string } => {
  const name = raw.normalize('NFC');
  if (name.length === 0) throw invalid(field, 'must not be empty');
  if (codePoints(name) > 256) throw invalid(field, 'must be at most 256 characters');
  if (FORBIDDEN_IN_IDENTIFIER.test(name))
    throw invalid(field, 'must not contain spaces, control or formatting characters');
  const key = name.normalize('NFKC').toLowerCase().normalize('NFKC');
  if (FORBIDDEN_IN_IDENTIFIER.test(key)) throw invalid(field, 'normalizes to forbidden characters');
  return { name, key };
};

// Deliberately simple: one @, no spaces or controls, a dot in the domain. Deliverability is
// proven by verification (EmailVerified), not by a regex.
const EMAIL = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/u;

export const email = (field: string, raw: string): { email: string; key: string } => {
  const value = raw.normalize('NFC').trim();
  if (codePoints(value) > 254 || !EMAIL.test(value) || FORBIDDEN_IN_TEXT.test(value)) {
    throw invalid(field, 'must be an email address like name@example.org');
  }
  return { email: value, key: value.normalize('NFKC').toLowerCase() };
};

/** Phone numbers in E.164 form (+ and up to 15 digits), so every site compares them alike. */
export const phone = (field: string, raw: string): string => {
  const value = raw.replace(/[\s().-]/g, '');
  if (!/^\+[1-9][0-9]{1,14}$/.test(value))
    throw invalid(field, 'must be an E.164 number like +41446681800');
  return value;
};

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export const id = (field: string, raw: string): string => {
  if (!ID.test(raw))
    throw invalid(field, 'must be 1-64 letters, digits, dot, underscore, colon or dash');
  return raw;
};
