// Read-side queries over principals and identities. The same functions serve decide functions
// (on the writer's connection) and HTTP/CLI reads (on the reader's connection).

import { hlcWallMs } from '../clock/hlc.ts';
import { AppError, invalid } from '../errors.ts';
import type { Reader, SqlRow } from '../readmodel/projection.ts';

export type IdentityView = {
  readonly id: string;
  readonly directoryId: string;
  readonly principalId: string;
  readonly name: string;
  /** held: usable; conflict: lost a concurrent claim to the same name; released: removed. */
  readonly status: 'held' | 'conflict' | 'released';
  readonly removed: boolean;
};

export type DirectoryView = {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly status: string;
  /** The credential directories its identities may use; null: any. */
  readonly credentialDirectoryIds: string[] | null;
};

const s = (row: SqlRow, col: string): string => String(row[col] ?? '');
const sOrNull = (row: SqlRow, col: string): string | null =>
  row[col] == null ? null : String(row[col]);
const iso = (hlc: string): string => new Date(hlcWallMs(hlc)).toISOString();

const identityView = (r: SqlRow): IdentityView => ({
  id: s(r, 'id'),
  directoryId: s(r, 'directory_id'),
  principalId: s(r, 'principal_id'),
  name: s(r, 'name'),
  status: s(r, 'status') as IdentityView['status'],
  removed: Number(r.removed) === 1,
});

export const identitiesOf = (read: Reader, principalId: string): IdentityView[] =>
  read
    .all(
      'SELECT id, directory_id, principal_id, name, status, removed FROM identities WHERE principal_id = ? ORDER BY directory_id, key, id',
      principalId,
    )
    .map(identityView);

export const getIdentity = (read: Reader, id: string): IdentityView | undefined => {
  const row = read.get(
    'SELECT id, directory_id, principal_id, name, status, removed FROM identities WHERE id = ?',
    id,
  );
  return row && identityView(row);
};

/** The identity currently holding a normalized name in a directory, if any. */
export const identityHolding = (
  read: Reader,
  directoryId: string,
  key: string,
): IdentityView | undefined => {
  const row = read.get(
    "SELECT id, directory_id, principal_id, name, status, removed FROM identities WHERE directory_id = ? AND key = ? AND status = 'held'",
    directoryId,
    key,
  );
  return row && identityView(row);
};

/** The live identity a new name would be confused with in a directory: the one holding its
 * confusable skeleton (UTS #39), if any. */
export const identityLookalike = (
  read: Reader,
  directoryId: string,
  skeleton: string,
): IdentityView | undefined => {
  const row = read.get(
    "SELECT id, directory_id, principal_id, name, status, removed FROM identities WHERE directory_id = ? AND skeleton = ? AND status = 'held'",
    directoryId,
    skeleton,
  );
  return row && identityView(row);
};

const DIRECTORY_COLUMNS = 'id, name, description, name_status, credential_directories';

const directoryView = (row: SqlRow): DirectoryView => ({
  id: s(row, 'id'),
  name: s(row, 'name'),
  description: s(row, 'description'),
  status: s(row, 'name_status'),
  credentialDirectoryIds:
    row.credential_directories == null
      ? null
      : (JSON.parse(String(row.credential_directories)) as string[]),
});

export const getDirectory = (read: Reader, id: string): DirectoryView | undefined => {
  const row = read.get(`SELECT ${DIRECTORY_COLUMNS} FROM identity_directories WHERE id = ?`, id);
  return row && directoryView(row);
};

/** The directory whose name a new one would be confused with (same skeleton, UTS #39), if any. */
export const directoryHolding = (read: Reader, skeleton: string): string | undefined => {
  const row = read.get(
    "SELECT id FROM identity_directories WHERE skeleton = ? AND name_status = 'held'",
    skeleton,
  );
  return row ? s(row, 'id') : undefined;
};

export const listDirectories = (read: Reader): DirectoryView[] =>
  read
    .all(`SELECT ${DIRECTORY_COLUMNS} FROM identity_directories ORDER BY key, id`)
    .map(directoryView);

/**
 * The credential directories whose credentials the identities of an identity directory may use
 * (DESIGN.md section 7: "a directory may be tied to a credential directory"); undefined: any.
 */
export const allowedCredentialDirectories = (
  read: Reader,
  identityDirectoryId: string,
): ReadonlySet<string> | undefined => {
  const r = read.get(
    'SELECT credential_directories FROM identity_directories WHERE id = ?',
    identityDirectoryId,
  );
  return r?.credential_directories == null
    ? undefined
    : new Set(JSON.parse(String(r.credential_directories)) as string[]);
};

/** Checks a list of credential directory ids names existing ones; null or empty means any. */
export const credentialDirectoryList = (
  read: Reader,
  ids: readonly string[] | null | undefined,
): string[] | null | undefined => {
  if (ids == null) return ids;
  if (ids.length > 16) throw invalid('credentialDirectoryIds', 'at most 16 directories');
  for (const id of ids)
    if (!read.get('SELECT 1 AS found FROM credential_directories WHERE id = ?', id))
      throw new AppError('CREDENTIAL_DIRECTORY_NOT_FOUND', `no credential directory ${id}`, {
        field: 'credentialDirectoryIds',
      });
  return [...new Set(ids)].sort();
};

export type ConflictView = {
  readonly kind: string;
  readonly scope: string;
  readonly subject: string;
  readonly winner: string | null;
  readonly detail: string | null;
  readonly at: string;
};

export const listConflicts = (read: Reader): ConflictView[] =>
  read
    .all('SELECT kind, scope, subject, winner, detail, hlc FROM conflicts ORDER BY hlc, subject')
    .map((r) => ({
      kind: s(r, 'kind'),
      scope: s(r, 'scope'),
      subject: s(r, 'subject'),
      winner: sOrNull(r, 'winner'),
      detail: sOrNull(r, 'detail'),
      at: iso(s(r, 'hlc')),
    }));
