// Column readers for the row mappers of the read models (projections/): one typed view per row,
// built from these, so no query's caller converts a column itself.
import type { SqlRow } from './projection.ts';

export const str = (row: SqlRow, col: string): string => String(row[col] ?? '');

export const strOrNull = (row: SqlRow, col: string): string | null =>
  row[col] == null ? null : String(row[col]);

export const numOrNull = (row: SqlRow, col: string): number | null =>
  row[col] == null ? null : Number(row[col]);

/** A JSON list of strings, validated in place rather than copied (some are read on every
 * request: a token's subnets, a session's policies); anything else reads as empty. */
export const stringList = (row: SqlRow, col: string): string[] => {
  const v: unknown = JSON.parse(str(row, col));
  return Array.isArray(v) && v.every((x): x is string => typeof x === 'string') ? v : [];
};
