// Terminal output. Strings that come from the server are data, not terminal commands: C0/C1
// controls, bidi overrides and line separators are shown as escapes so a stored name cannot move
// the cursor, recolour the screen or reorder what the operator reads (CWE-150, Trojan Source /
// CVE-2021-42574).

// C0, DEL and C1 (Cc); bidi marks, embeddings, overrides and isolates; line/para separators.
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const escaped = (c: string): string => {
  const n = c.codePointAt(0) ?? 0;
  return n <= 0xff
    ? `\\x${n.toString(16).padStart(2, '0')}`
    : `\\u${n.toString(16).padStart(4, '0')}`;
};

// Raw C0 controls in JSON text are only the layout's own new lines: stringify escapes the rest.
const jsonEscape = (c: string): string =>
  c === '\n' ? c : `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;

/** A server-provided string made safe to print on a terminal. */
export const safe = (value: string): string => value.replace(UNSAFE, escaped);

/** How a field reads in human output. */
export const show = (value: string | number | boolean | null | undefined): string => {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return safe(String(value));
};

const width = (s: string): number => [...s].length;

const pad = (s: string, n: number): string => s + ' '.repeat(Math.max(0, n - width(s)));

/** An aligned table with a header row; cells are made safe, the last column is not padded. */
export const table = (headers: readonly string[], rows: readonly (readonly string[])[]): string => {
  const cells = [headers, ...rows].map((row) => row.map((c) => show(c)));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => width(row[i] ?? ''))));
  return cells
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : pad(c, widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
};

/** `key  value` lines with the values aligned. */
export const keyValues = (
  pairs: readonly (readonly [string, string | number | boolean | null | undefined])[],
): string => {
  const w = Math.max(0, ...pairs.map(([k]) => width(k)));
  return pairs.map(([k, v]) => `${pad(k, w)}  ${show(v)}`.trimEnd()).join('\n');
};

/**
 * JSON for scripts. JSON.stringify escapes C0 controls but leaves C1 controls and bidi overrides
 * raw; escaping them too keeps the text valid JSON with the same value, and safe on a terminal.
 */
export const json = (value: unknown): string =>
  JSON.stringify(value, null, 2).replace(UNSAFE, jsonEscape);

export const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

export const printJson = (value: unknown): void => print(json(value));
