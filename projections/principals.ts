// Principals: profile fields are LWW registers, `active` a restrictive register (disabled wins
// over a concurrent enable), `deleted` terminal, and the email a unique claim among principals.

import { hlcWallMs } from '../src/clock/hlc.ts';
import type { EventPayload } from '../src/events/catalogue.ts';
import {
  type Projection,
  type Reader,
  type SqlRow,
  type Statement,
  sql,
} from '../src/readmodel/projection.ts';
import {
  type ClaimTable,
  claimRecompute,
  claimReleaseSelf,
  createOrMerge,
  duplicateCreation,
  type LwwRegister,
  lwwUpdate,
  restrictiveValue,
  restrictiveWrite,
  terminalSet,
} from '../src/readmodel/registers.ts';
import { str, strOrNull } from '../src/readmodel/rows.ts';

export const ANONYMOUS = 'anonymous';
export const GENESIS_HLC = '0000000000000000@genesis';

export const emailClaims: ClaimTable = {
  table: 'principals',
  idColumn: 'id',
  keyColumns: ['email_key'],
  live: 'deleted = 0 AND email_key IS NOT NULL',
  hlcColumn: 'email_hlc',
  eventColumn: 'email_event',
  statusColumn: 'email_status',
};

const ACTIVE = 'principal.active';
const setActive = (id: string): Statement =>
  sql(
    `UPDATE principals SET active = (${restrictiveValue(ACTIVE, '?', 'enabled')} = 'enabled') WHERE id = ?`,
    id,
    id,
  );

const recomputeEmail = (key: unknown): Statement[] =>
  typeof key === 'string' ? [claimRecompute(emailClaims, [key])] : [];

type Pii = EventPayload<'PrincipalProfileChanged'>['pii'];

const profileRegisters = (pii: Pii, eventId: string): LwwRegister[] => {
  const regs: LwwRegister[] = [];
  if (pii.briefName !== undefined)
    regs.push({ hlcColumn: 'brief_name_hlc', values: { brief_name: pii.briefName } });
  if (pii.fullName !== undefined)
    regs.push({ hlcColumn: 'full_name_hlc', values: { full_name: pii.fullName } });
  if (pii.phone !== undefined) regs.push({ hlcColumn: 'phone_hlc', values: { phone: pii.phone } });
  if (pii.email !== undefined) {
    regs.push({
      hlcColumn: 'email_hlc',
      values: { email: pii.email, email_key: pii.emailKey ?? null, email_event: eventId },
    });
  }
  return regs;
};

export const principals: Projection = {
  name: 'principals',
  ddl: [
    `CREATE TABLE principals (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      brief_name TEXT NOT NULL, brief_name_hlc TEXT NOT NULL,
      full_name TEXT NOT NULL, full_name_hlc TEXT NOT NULL,
      email TEXT, email_key TEXT, email_hlc TEXT NOT NULL, email_event TEXT NOT NULL, email_status TEXT,
      phone TEXT, phone_hlc TEXT NOT NULL,
      active INTEGER NOT NULL DEFAULT 1,
      deleted INTEGER NOT NULL DEFAULT 0, deleted_hlc TEXT,
      created_hlc TEXT NOT NULL, created_by TEXT NOT NULL, origin TEXT NOT NULL
    ) WITHOUT ROWID`,
    'CREATE INDEX principals_email ON principals (email_key, email_hlc, email_event) WHERE email_key IS NOT NULL',
    'CREATE INDEX principals_created ON principals (created_hlc)',
  ],
  // `anonymous` is materialized from the start, identical on every node, so grants to it work.
  seed: [
    sql(
      `INSERT INTO principals (id, kind, brief_name, brief_name_hlc, full_name, full_name_hlc,
        email_hlc, email_event, phone_hlc, created_hlc, created_by, origin)
       VALUES (?, 'service', 'anonymous', ?, 'Anyone, signed in or not', ?, ?, '', ?, ?, 'system', 'genesis')`,
      ANONYMOUS,
      GENESIS_HLC,
      GENESIS_HLC,
      GENESIS_HLC,
      GENESIS_HLC,
      GENESIS_HLC,
    ),
  ],
  conflicts: [
    `SELECT 'unique-email', 'email:' || p.email_key, p.id,
       (SELECT w.id FROM principals w WHERE w.email_key = p.email_key AND w.email_status = 'held'),
       p.email, p.email_hlc
     FROM principals p WHERE p.email_status = 'conflict'`,
  ],
  handlers: {
    // The id may be client-chosen, so two sites can register one id at once: the row is a set
    // of registers (profile fields LWW, kind and creation facts earliest-wins), merged.
    PrincipalRegistered: (e, read) => {
      const { principalId, kind, pii } = e.data;
      const before = read.get(
        'SELECT email_key, created_hlc, origin FROM principals WHERE id = ?',
        principalId,
      );
      const keys = new Set([before?.email_key, pii.emailKey].filter((k) => typeof k === 'string'));
      return [
        createOrMerge(
          {
            table: 'principals',
            key: { id: principalId },
            lww: profileRegisters(
              {
                briefName: pii.briefName,
                fullName: pii.fullName,
                phone: pii.phone,
                email: pii.email,
                emailKey: pii.emailKey,
              },
              e.id,
            ),
            earliest: [
              {
                hlcColumn: 'created_hlc',
                values: { kind, created_by: e.actor, origin: e.origin },
              },
            ],
          },
          e.hlc,
        ),
        // Provisioned from a directory's entry at two sites at once: one person, not a collision.
        ...(before && e.data.source === undefined
          ? [
              duplicateCreation(
                'principal',
                principalId,
                { hlc: before.created_hlc ?? null, origin: before.origin ?? null },
                e,
              ),
            ]
          : []),
        ...[...keys].flatMap(recomputeEmail),
        // A merge may have left this principal without an email: it holds no claim then.
        ...(pii.email === null || before ? [claimReleaseSelf(emailClaims, principalId)] : []),
      ];
    },
    PrincipalProfileChanged: (e, read) => {
      const { principalId, pii } = e.data;
      const regs = profileRegisters(pii, e.id);
      if (regs.length === 0) return [];
      const before =
        pii.email === undefined
          ? undefined
          : read.get('SELECT email_key FROM principals WHERE id = ?', principalId);
      const keys = new Set([before?.email_key, pii.emailKey].filter((k) => typeof k === 'string'));
      return [
        lwwUpdate('principals', { id: principalId }, regs, e.hlc),
        ...[...keys].flatMap(recomputeEmail),
        ...(pii.email === null ? [claimReleaseSelf(emailClaims, principalId)] : []),
      ];
    },
    PrincipalDeactivated: (e) => [
      ...restrictiveWrite(ACTIVE, e.data.principalId, e, 'disabled', 1),
      setActive(e.data.principalId),
    ],
    PrincipalActivated: (e) => [
      ...restrictiveWrite(ACTIVE, e.data.principalId, e, 'enabled', 0),
      setActive(e.data.principalId),
    ],
    PrincipalDeleted: (e, read) => {
      const row = read.get('SELECT email_key FROM principals WHERE id = ?', e.data.principalId);
      return [
        terminalSet('principals', { id: e.data.principalId }, 'deleted', 'deleted_hlc', e.hlc),
        ...recomputeEmail(row?.email_key),
      ];
    },
  },
};

// Queries on the principals read model: every read of its table goes through these, with one
// typed row mapper (PrincipalView).
const iso = (hlc: string): string => new Date(hlcWallMs(hlc)).toISOString();

export type PrincipalView = {
  readonly id: string;
  readonly kind: string;
  readonly briefName: string;
  readonly fullName: string;
  readonly email: string | null;
  readonly emailStatus: string | null;
  readonly phone: string | null;
  readonly active: boolean;
  readonly deleted: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly origin: string;
};

const principalView = (r: SqlRow): PrincipalView => ({
  id: str(r, 'id'),
  kind: str(r, 'kind'),
  briefName: str(r, 'brief_name'),
  fullName: str(r, 'full_name'),
  email: strOrNull(r, 'email'),
  emailStatus: strOrNull(r, 'email_status'),
  phone: strOrNull(r, 'phone'),
  active: Number(r.active) === 1,
  deleted: Number(r.deleted) === 1,
  createdAt: iso(str(r, 'created_hlc')),
  createdBy: str(r, 'created_by'),
  origin: str(r, 'origin'),
});

const PRINCIPAL_COLUMNS =
  'id, kind, brief_name, full_name, email, email_status, phone, active, deleted, created_hlc, created_by, origin';

export const getPrincipal = (read: Reader, id: string): PrincipalView | undefined => {
  const row = read.get(`SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE id = ?`, id);
  return row && principalView(row);
};

export type Page<T> = { readonly items: T[]; readonly next: string | null };

export const listPrincipals = (
  read: Reader,
  options: { after?: string; limit: number; includeDeleted?: boolean },
): Page<PrincipalView> => {
  const rows = read.all(
    `SELECT ${PRINCIPAL_COLUMNS} FROM principals WHERE id > ? AND (? OR deleted = 0) ORDER BY id LIMIT ?`,
    options.after ?? '',
    options.includeDeleted ? 1 : 0,
    options.limit + 1,
  );
  const items = rows.slice(0, options.limit).map(principalView);
  return { items, next: rows.length > options.limit ? (items.at(-1)?.id ?? null) : null };
};

export const principalByEmailKey = (read: Reader, key: string): string | undefined => {
  const row = read.get(
    "SELECT id FROM principals WHERE email_key = ? AND email_status = 'held'",
    key,
  );
  return row ? str(row, 'id') : undefined;
};

/** Active and not deleted (every login step asks: two columns, not the principal's view). */
export const principalUsable = (read: Reader, principalId: string): boolean =>
  read.get(
    'SELECT 1 AS usable FROM principals WHERE id = ? AND active = 1 AND deleted = 0',
    principalId,
  ) !== undefined;

/** The principal's address and whether it holds it (the unique claim), for mail: only an active,
 * undeleted principal that holds its address has one. */
export const mailAddressOf = (
  read: Reader,
  principalId: string,
): { email: string; key: string } | undefined => {
  const r = read.get(
    "SELECT email, email_key FROM principals WHERE id = ? AND email_status = 'held' AND active = 1 AND deleted = 0",
    principalId,
  );
  return r?.email == null ? undefined : { email: str(r, 'email'), key: str(r, 'email_key') };
};

/** The normalized key of the principal's current address, if it exists and has one. */
export const emailKeyOf = (read: Reader, principalId: string): string | undefined => {
  const r = read.get('SELECT email_key FROM principals WHERE id = ?', principalId);
  return r?.email_key == null ? undefined : str(r, 'email_key');
};

/** Whether the read model holds any principal but the anonymous one (a node's first start). */
export const anyPrincipalButAnonymous = (read: Reader): boolean =>
  read.get('SELECT 1 AS found FROM principals WHERE id <> ? LIMIT 1', ANONYMOUS) !== undefined;
