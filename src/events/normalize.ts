// Input normalization and validation for names and contact data. Keys used for uniqueness are
// computed here, at the origin, and carried in events (see events/catalogue.ts).
import { invalid } from '../errors.ts';
import { skeletonOf } from './skeleton.ts';

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

// ---------------------------------------------------------------------------------------------
// Names being claimed (UTS #39, Unicode Security Mechanisms). `identityName` above stays the
// lookup: a login, a Basic header or a gateway's Remote-User finds a name by its key, and a name
// accepted before these rules must still be found. A name being created or renamed must also be
// one a reader can tell from the others: `claimedName` adds the restriction level and the
// confusable skeleton the unique claim is held on (src/events/skeleton.ts).

/** UTS #31 Table 5 (Recommended Scripts, Unicode 15.1; unchanged in 16 and 17): the scripts in
 * modern customary use. Limited-use and excluded scripts (Cherokee, whose letters copy Latin
 * capitals; Runic; Gothic …) are not in UTS #39's identifier profile, so names refuse them. */
const RECOMMENDED_SCRIPTS = [
  'Arabic',
  'Armenian',
  'Bengali',
  'Bopomofo',
  'Cyrillic',
  'Devanagari',
  'Ethiopic',
  'Georgian',
  'Greek',
  'Gujarati',
  'Gurmukhi',
  'Han',
  'Hangul',
  'Hebrew',
  'Hiragana',
  'Kannada',
  'Katakana',
  'Khmer',
  'Lao',
  'Latin',
  'Malayalam',
  'Myanmar',
  'Oriya',
  'Sinhala',
  'Tamil',
  'Telugu',
  'Thaana',
  'Thai',
  'Tibetan',
] as const;
const SCRIPT_TESTS = RECOMMENDED_SCRIPTS.map(
  (script) => [script, new RegExp(`^\\p{Script_Extensions=${script}}$`, 'u')] as const,
);
/** Characters used with every script (digits, punctuation, combining marks): UTS #39 5.1 counts
 * them as belonging to all scripts. */
const ANY_SCRIPT = /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]$/u;
/** UTS #39 5.1 augmented script sets: Han is also written in Japanese, Korean, Han with Bopomofo. */
const AUGMENTED: Readonly<Record<string, readonly string[]>> = {
  Han: ['Jpan', 'Kore', 'Hanb'],
  Hiragana: ['Jpan'],
  Katakana: ['Jpan'],
  Hangul: ['Kore'],
  Bopomofo: ['Hanb'],
};
/** UTS #39 5.2 Highly Restrictive: besides one script, Latin may join these writing systems. */
const LATIN_MAY_JOIN = ['Jpan', 'Hanb', 'Kore'];
const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;
const SAME_MARK_TWICE = /(\p{Mn})\1/u;
const hex = (ch: string) =>
  `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

const intersect = (a: Set<string> | undefined, b: Set<string>): Set<string> =>
  a === undefined ? b : new Set([...a].filter((x) => b.has(x)));

/**
 * Refuses a name that is not Highly Restrictive (UTS #39 section 5.2): one script, or Latin with
 * Han and kana (Japanese), Han and Bopomofo, or Han and Hangul (Korean), counting each character
 * by its Script_Extensions and common characters as any script (section 5.1). Highly Restrictive
 * is ICU's default restriction level for spoof checking; Moderately Restrictive would also let
 * Latin mix with any recommended script but Cyrillic and Greek (Latin with Armenian `ո` for `n`,
 * or Georgian), which no identity name here needs. Whole-script lookalikes (Cyrillic `асе` for
 * `ace`) pass this test and are caught by the skeleton instead.
 */
const requireHighlyRestrictive = (field: string, name: string): void => {
  let resolved: Set<string> | undefined;
  let besidesLatin: Set<string> | undefined;
  for (const ch of name) {
    if (ANY_SCRIPT.test(ch)) continue;
    const scripts = new Set<string>();
    for (const [script, test] of SCRIPT_TESTS)
      if (test.test(ch)) for (const s of [script, ...(AUGMENTED[script] ?? [])]) scripts.add(s);
    if (scripts.size === 0)
      throw invalid(
        field,
        `${hex(ch)} is of a script not recommended for identifiers (UTS #31 Table 5)`,
      );
    resolved = intersect(resolved, scripts);
    if (!scripts.has('Latin')) besidesLatin = intersect(besidesLatin, scripts);
  }
  if (resolved === undefined || resolved.size > 0) return;
  if (besidesLatin !== undefined && LATIN_MAY_JOIN.some((s) => besidesLatin.has(s))) return;
  throw invalid(
    field,
    'mixes scripts a reader could confuse (UTS #39 5.2: use one script, or Latin with Japanese, Chinese or Korean)',
  );
};

/** Longest skeleton kept: confusables.txt expands a few characters to several. */
const MAX_SKELETON = 1024;

/**
 * A name being created or renamed (identities, identity directories): `identityName`'s checks,
 * then UTS #39: no default-ignorable (invisible) characters, no nonspacing mark twice in a row
 * (5.4), Highly Restrictive (5.2); and its skeleton (section 4), the key its unique claim is held
 * on. Computed here, at the origin, and carried in the event: script properties and case mapping
 * follow this runtime's Unicode version, so no other node recomputes them.
 */
export const claimedName = (
  field: string,
  raw: string,
): { name: string; key: string; skeleton: string } => {
  const { name, key } = identityName(field, raw);
  const invisible = DEFAULT_IGNORABLE.exec(name);
  if (invisible)
    throw invalid(field, `must not contain invisible characters (${hex(invisible[0])})`);
  if (SAME_MARK_TWICE.test(name.normalize('NFD')))
    throw invalid(field, 'must not repeat a combining mark (UTS #39 5.4)');
  requireHighlyRestrictive(field, name);
  const skeleton = skeletonOf(key);
  if (skeleton.length > MAX_SKELETON)
    throw invalid(field, 'is too long once its lookalikes are spelled out');
  return { name, key, skeleton };
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
