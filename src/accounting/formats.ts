// Export formats of the audit trail: CSV (RFC 4180) and NDJSON, one line per event.
//
// CSV injection (OWASP "CSV Injection"; CWE-1236): a spreadsheet runs a cell that starts with
// `=`, `+`, `-`, `@`, tab or carriage return as a formula, and audit rows carry text that users
// chose (names, reasons). Such a cell is prefixed with a single quote, every cell is quoted with
// inner quotes doubled, so a separator inside a value cannot start a new cell either. Control and
// bidi characters are shown as escapes (`\x1b`), so the file cannot drive a terminal it is
// printed on.
import type { AuditEntry } from '../../projections/audit.ts';

// C0, DEL and C1; bidi marks, embeddings, overrides and isolates; line/paragraph separators.
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const FORMULA_START = /^[=+\-@\t\r]/;

const escapeControl = (c: string): string => {
  const n = c.codePointAt(0) ?? 0;
  return n <= 0xff
    ? `\\x${n.toString(16).padStart(2, '0')}`
    : `\\u${n.toString(16).padStart(4, '0')}`;
};

/** One CSV cell: formula-looking text defused, controls escaped, always quoted. */
export const csvCell = (value: string | null): string => {
  const raw = value ?? '';
  const defused = FORMULA_START.test(raw) ? `'${raw}` : raw;
  return `"${defused.replace(UNSAFE, escapeControl).replaceAll('"', '""')}"`;
};

export const CSV_COLUMNS = [
  'at',
  'origin',
  'seq',
  'event_id',
  'actor',
  'via',
  'type',
  'family',
  'subjects',
  'summary',
  'ip',
  'correlation_id',
  'allowed_by',
] as const;

export const csvHeader = (): string => `${CSV_COLUMNS.join(',')}\r\n`;

export const csvRow = (e: AuditEntry): string =>
  `${[
    e.at,
    e.origin,
    e.seq,
    e.eventId,
    e.actor,
    e.via,
    e.type,
    e.family,
    e.subjects.join(' '),
    e.summary,
    e.ip,
    e.correlationId,
    e.allowedBy,
  ]
    .map(csvCell)
    .join(',')}\r\n`;

// JSON.stringify escapes C0 controls; the rest are escaped too, keeping the same value.
const jsonEscape = (c: string): string =>
  `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;

/** One NDJSON line: compact JSON, no raw control or bidi characters, then a line feed. */
export const ndjsonLine = (value: unknown): string =>
  `${JSON.stringify(value).replace(UNSAFE, jsonEscape)}\n`;
