// Identity directories and identities. An identity name is a unique claim within its directory,
// held on its confusable skeleton (UTS #39; src/events/skeleton.ts), so `admin` and `аdmin` (with a
// Cyrillic а) claim the same thing: the earliest live claim by (HLC, event id) holds it, concurrent
// later ones are `conflict` and cannot log in. Logins find a name by its key (NFKC, case folded),
// never by its skeleton. Removal is terminal; deleting a principal removes its
// identities (and an identity added concurrently to a deleted principal is born removed), which
// releases their names.

import { skeletonOf } from '../src/events/skeleton.ts';
import {
  type Projection,
  type Reader,
  type SqlRow,
  type Statement,
  sql,
} from '../src/readmodel/projection.ts';
import {
  CLAIM_CONFLICT,
  CLAIM_HELD,
  CLAIM_RELEASED,
  type ClaimTable,
  claimRecompute,
  createOrMerge,
  duplicateCreation,
  type LwwRegister,
  lwwUpdate,
  terminalSet,
} from '../src/readmodel/registers.ts';
import { str } from '../src/readmodel/rows.ts';
import { GENESIS_HLC } from './principals.ts';

export const INTERNAL_DIRECTORY = 'internal';

export const identityClaims: ClaimTable = {
  table: 'identities',
  idColumn: 'id',
  keyColumns: ['directory_id', 'skeleton'],
  live: 'removed = 0',
  hlcColumn: 'hlc',
  eventColumn: 'event_id',
  statusColumn: 'status',
};

export const directoryClaims: ClaimTable = {
  table: 'identity_directories',
  idColumn: 'id',
  keyColumns: ['skeleton'],
  live: '1',
  hlcColumn: 'name_hlc',
  eventColumn: 'name_event',
  statusColumn: 'name_status',
};

/** The credential directories a directory's identities may use, as stored: a sorted JSON array,
 * or NULL for any. */
const credentialDirectories = (ids: readonly string[] | null | undefined): string | null =>
  ids == null || ids.length === 0 ? null : JSON.stringify([...new Set(ids)].sort());

const recomputeIdentities = (rows: readonly SqlRow[]): Statement[] => {
  const seen = new Set<string>();
  const out: Statement[] = [];
  for (const r of rows) {
    if (typeof r.directory_id !== 'string' || typeof r.skeleton !== 'string') continue;
    const k = `${r.directory_id}\0${r.skeleton}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(claimRecompute(identityClaims, [r.directory_id, r.skeleton]));
  }
  return out;
};

export const identities: Projection = {
  name: 'identities',
  ddl: [
    `CREATE TABLE identity_directories (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL, key TEXT NOT NULL, skeleton TEXT NOT NULL,
      name_hlc TEXT NOT NULL, name_event TEXT NOT NULL, name_status TEXT NOT NULL,
      description TEXT NOT NULL, description_hlc TEXT NOT NULL,
      credential_directories TEXT, credential_directories_hlc TEXT NOT NULL,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL
    ) WITHOUT ROWID`,
    'CREATE INDEX identity_directories_key ON identity_directories (key)',
    'CREATE INDEX identity_directories_skeleton ON identity_directories (skeleton, name_hlc, name_event)',
    `CREATE TABLE identities (
      id TEXT PRIMARY KEY,
      directory_id TEXT NOT NULL, principal_id TEXT NOT NULL,
      name TEXT NOT NULL, key TEXT NOT NULL, skeleton TEXT NOT NULL,
      hlc TEXT NOT NULL, event_id TEXT NOT NULL,
      removed INTEGER NOT NULL, removed_hlc TEXT,
      status TEXT NOT NULL,
      created_by TEXT NOT NULL, origin TEXT NOT NULL
    ) WITHOUT ROWID`,
    'CREATE INDEX identities_key ON identities (directory_id, key)',
    'CREATE INDEX identities_skeleton ON identities (directory_id, skeleton, hlc, event_id)',
    'CREATE INDEX identities_principal ON identities (principal_id)',
  ],
  seed: [
    sql(
      `INSERT INTO identity_directories (id, name, key, skeleton, name_hlc, name_event, name_status, description,
        description_hlc, credential_directories_hlc, created_hlc, created_by, origin)
       VALUES (?, 'internal', 'internal', ?, ?, '', 'held', 'Names managed by authlog itself', ?, ?, ?, 'system', 'genesis')`,
      INTERNAL_DIRECTORY,
      skeletonOf(INTERNAL_DIRECTORY),
      GENESIS_HLC,
      GENESIS_HLC,
      GENESIS_HLC,
      GENESIS_HLC,
    ),
  ],
  conflicts: [
    `SELECT 'unique-identity', 'identity:' || i.directory_id || ':' || i.key, i.id,
       (SELECT w.id FROM identities w WHERE w.directory_id = i.directory_id AND w.skeleton = i.skeleton AND w.status = 'held'),
       i.name, i.hlc
     FROM identities i WHERE i.status = 'conflict'`,
    `SELECT 'unique-directory', 'directory:' || d.key, d.id,
       (SELECT w.id FROM identity_directories w WHERE w.skeleton = d.skeleton AND w.name_status = 'held'),
       d.name, d.name_hlc
     FROM identity_directories d WHERE d.name_status = 'conflict'`,
  ],
  handlers: {
    // Directory ids may be client-chosen: a creation merges as register writes (see principals).
    IdentityDirectoryDefined: (e, read) => {
      const { directoryId, name, key, skeleton, description } = e.data;
      const before = read.get(
        'SELECT skeleton, created_hlc, origin FROM identity_directories WHERE id = ?',
        directoryId,
      );
      const keys = new Set([before?.skeleton, skeleton].filter((k) => typeof k === 'string'));
      return [
        createOrMerge(
          {
            table: 'identity_directories',
            key: { id: directoryId },
            lww: [
              { hlcColumn: 'name_hlc', values: { name, key, skeleton, name_event: e.id } },
              { hlcColumn: 'description_hlc', values: { description } },
              {
                hlcColumn: 'credential_directories_hlc',
                values: {
                  credential_directories: credentialDirectories(e.data.credentialDirectoryIds),
                },
              },
            ],
            earliest: [
              { hlcColumn: 'created_hlc', values: { created_by: e.actor, origin: e.origin } },
            ],
            initial: { name_status: 'held' },
          },
          e.hlc,
        ),
        ...(before
          ? [
              duplicateCreation(
                'identity-directory',
                directoryId,
                { hlc: before.created_hlc ?? null, origin: before.origin ?? null },
                e,
              ),
            ]
          : []),
        ...[...keys].map((k) => claimRecompute(directoryClaims, [k])),
      ];
    },
    IdentityDirectoryChanged: (e, read) => {
      const { directoryId, name, key, skeleton, description, credentialDirectoryIds } = e.data;
      const regs: LwwRegister[] = [];
      if (credentialDirectoryIds !== undefined)
        regs.push({
          hlcColumn: 'credential_directories_hlc',
          values: { credential_directories: credentialDirectories(credentialDirectoryIds) },
        });
      if (name !== undefined && key !== undefined && skeleton !== undefined)
        regs.push({ hlcColumn: 'name_hlc', values: { name, key, skeleton, name_event: e.id } });
      if (description !== undefined)
        regs.push({ hlcColumn: 'description_hlc', values: { description } });
      if (regs.length === 0) return [];
      const before = read.get(
        'SELECT skeleton FROM identity_directories WHERE id = ?',
        directoryId,
      );
      const keys = new Set([before?.skeleton, skeleton].filter((k) => typeof k === 'string'));
      return [
        lwwUpdate('identity_directories', { id: directoryId }, regs, e.hlc),
        ...[...keys].map((k) => claimRecompute(directoryClaims, [k])),
      ];
    },
    // Ids of identities provisioned from an external directory derive from its entry, so two
    // sites may add the same one at once: the earliest addition (HLC) is the row on every node,
    // whichever arrives first.
    IdentityAdded: (e, read) => {
      const { identityId, directoryId, principalId, pii } = e.data;
      const before = read.get('SELECT skeleton FROM identities WHERE id = ?', identityId);
      const earlier =
        before && before.skeleton !== pii.skeleton
          ? [claimRecompute(identityClaims, [directoryId, str(before, 'skeleton')])]
          : [];
      return [
        sql(
          `INSERT INTO identities (id, directory_id, principal_id, name, key, skeleton, hlc, event_id, removed,
             removed_hlc, status, created_by, origin)
           SELECT ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(p.deleted, 0), p.deleted_hlc, 'held', ?, ?
           FROM (SELECT 1) LEFT JOIN principals p ON p.id = ?
           WHERE 1 ON CONFLICT (id) DO UPDATE SET
             name = excluded.name, key = excluded.key, skeleton = excluded.skeleton,
             hlc = excluded.hlc, event_id = excluded.event_id, created_by = excluded.created_by,
             origin = excluded.origin
           WHERE excluded.hlc < identities.hlc`,
          identityId,
          directoryId,
          principalId,
          pii.name,
          pii.key,
          pii.skeleton,
          e.hlc,
          e.id,
          e.actor,
          e.origin,
          principalId,
        ),
        ...earlier,
        claimRecompute(identityClaims, [directoryId, pii.skeleton]),
      ];
    },
    IdentityRemoved: (e, read) => [
      terminalSet('identities', { id: e.data.identityId }, 'removed', 'removed_hlc', e.hlc),
      ...recomputeIdentities(
        read.all('SELECT directory_id, skeleton FROM identities WHERE id = ?', e.data.identityId),
      ),
    ],
    PrincipalDeleted: (e, read) => {
      const rows = read.all(
        'SELECT directory_id, skeleton FROM identities WHERE principal_id = ?',
        e.data.principalId,
      );
      if (rows.length === 0) return [];
      return [
        terminalSet(
          'identities',
          { principal_id: e.data.principalId },
          'removed',
          'removed_hlc',
          e.hlc,
        ),
        ...recomputeIdentities(rows),
      ];
    },
  },
};

/** The principals with a live identity in identity directory `directoryId`. */
export const principalsWithIdentityIn = (read: Reader, directoryId: string): string[] =>
  read
    .all('SELECT principal_id FROM identities WHERE directory_id = ? AND removed = 0', directoryId)
    .map((r) => String(r.principal_id));

/** The principals who may log in with credential directory `credentialDirectoryId`: a live
 * identity in a directory that admits it (tied to it, or to any). */
export const principalsAdmittedTo = (read: Reader, credentialDirectoryId: string): string[] =>
  read
    .all(
      `SELECT i.principal_id FROM identities i JOIN identity_directories d ON d.id = i.directory_id
       WHERE i.removed = 0 AND (d.credential_directories IS NULL
         OR EXISTS (SELECT 1 FROM json_each(d.credential_directories) WHERE value = ?))`,
      credentialDirectoryId,
    )
    .map((r) => String(r.principal_id));

// Queries on identities and identity directories: every read of these tables goes through these,
// with typed row mappers (IdentityView, DirectoryView). The same functions serve decide functions
// (on the writer's connection) and HTTP/CLI reads (on the reader's connection).
/** A JSON array of ids as stored (credential_directories), or null for NULL. */
const idList = (row: SqlRow, col: string): string[] | null => {
  if (row[col] == null) return null;
  const v: unknown = JSON.parse(str(row, col));
  return Array.isArray(v) ? v.map(String) : [];
};

/** held: usable; conflict: lost a concurrent claim to the same name; released: removed. */
export type IdentityStatus = typeof CLAIM_HELD | typeof CLAIM_CONFLICT | typeof CLAIM_RELEASED;
const identityStatus = (v: string): IdentityStatus => {
  if (v === CLAIM_HELD || v === CLAIM_CONFLICT || v === CLAIM_RELEASED) return v;
  throw new Error(`identities.status holds ${JSON.stringify(v)}`);
};

export type IdentityView = {
  readonly id: string;
  readonly directoryId: string;
  readonly principalId: string;
  readonly name: string;
  readonly status: IdentityStatus;
  readonly removed: boolean;
};

const IDENTITY_COLUMNS = 'id, directory_id, principal_id, name, status, removed';

const identityView = (r: SqlRow): IdentityView => ({
  id: str(r, 'id'),
  directoryId: str(r, 'directory_id'),
  principalId: str(r, 'principal_id'),
  name: str(r, 'name'),
  status: identityStatus(str(r, 'status')),
  removed: Number(r.removed) === 1,
});

export const identitiesOf = (read: Reader, principalId: string): IdentityView[] =>
  read
    .all(
      `SELECT ${IDENTITY_COLUMNS} FROM identities WHERE principal_id = ? ORDER BY directory_id, key, id`,
      principalId,
    )
    .map(identityView);

export const getIdentity = (read: Reader, id: string): IdentityView | undefined => {
  const row = read.get(`SELECT ${IDENTITY_COLUMNS} FROM identities WHERE id = ?`, id);
  return row && identityView(row);
};

/** The identity currently holding a normalized name in a directory, if any. */
export const identityHolding = (
  read: Reader,
  directoryId: string,
  key: string,
): IdentityView | undefined => {
  const row = read.get(
    `SELECT ${IDENTITY_COLUMNS} FROM identities WHERE directory_id = ? AND key = ? AND status = 'held'`,
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
    `SELECT ${IDENTITY_COLUMNS} FROM identities WHERE directory_id = ? AND skeleton = ? AND status = 'held'`,
    directoryId,
    skeleton,
  );
  return row && identityView(row);
};

export type DirectoryView = {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly status: string;
  /** The credential directories its identities may use; null: any. */
  readonly credentialDirectoryIds: string[] | null;
};

const DIRECTORY_COLUMNS = 'id, name, description, name_status, credential_directories';

const directoryView = (row: SqlRow): DirectoryView => ({
  id: str(row, 'id'),
  name: str(row, 'name'),
  description: str(row, 'description'),
  status: str(row, 'name_status'),
  credentialDirectoryIds: idList(row, 'credential_directories'),
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
  return row ? str(row, 'id') : undefined;
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
  const ids = r && idList(r, 'credential_directories');
  return ids == null ? undefined : new Set(ids);
};
