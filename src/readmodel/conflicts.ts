// Queries on the `conflicts` view: what the convergence rules settled. The view itself is made by
// the read-model database (database.ts) from the register conflicts and each projection's parts.
import { hlcWallMs } from '../clock/hlc.ts';
import type { Reader, SqlRow } from './projection.ts';
import { str, strOrNull } from './rows.ts';

export type ConflictView = {
  readonly kind: string;
  readonly scope: string;
  readonly subject: string;
  readonly winner: string | null;
  readonly detail: string | null;
  readonly at: string;
};

const conflictView = (r: SqlRow): ConflictView => ({
  kind: str(r, 'kind'),
  scope: str(r, 'scope'),
  subject: str(r, 'subject'),
  winner: strOrNull(r, 'winner'),
  detail: strOrNull(r, 'detail'),
  at: new Date(hlcWallMs(str(r, 'hlc'))).toISOString(),
});

export const listConflicts = (read: Reader): ConflictView[] =>
  read
    .all('SELECT kind, scope, subject, winner, detail, hlc FROM conflicts ORDER BY hlc, subject')
    .map(conflictView);

/** How many conflicts the convergence rules settled (status and metrics). */
export const conflictCount = (read: Reader): number => {
  const r = read.get('SELECT COUNT(*) AS n FROM conflicts');
  return Number(r?.n ?? 0);
};
