// Commands on principals, identity directories and identities. Each checks input and invariants
// against the node's read model, so one site never creates a conflict by itself; what two sites
// do concurrently is settled by the registers in the projections.
import { credentialDirectoryExists } from '../../projections/credentials.ts';
import {
  directoryHolding,
  getDirectory,
  getIdentity,
  INTERNAL_DIRECTORY,
  identityLookalike,
} from '../../projections/identities.ts';
import {
  ANONYMOUS,
  getPrincipal,
  type PrincipalView,
  principalByEmailKey,
} from '../../projections/principals.ts';
import { openSessionsOf } from '../../projections/sessions.ts';
import { requirePrivilege } from '../authz/admin.ts';
import {
  requireDominates,
  requireDominatesDirectory,
  requireMayChooseId,
} from '../authz/conferral.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError, invalid } from '../errors.ts';
import type { DomainEvent, EventPayload } from '../events/catalogue.ts';
import * as normalize from '../events/normalize.ts';
import type { Authority, Command, CommandMeta } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';

export const MANAGE_PRINCIPALS = 'authlog.principals.manage';

/**
 * A change to how `principalId` authenticates or recovers (its recovery channels, identities,
 * credentials, active flag, lockout, sessions, policy): a takeover or lock-out vector, so it needs
 * an elevated session (OWASP ASVS 5.0 V6.3.4 / V7.5.1: re-authentication before sensitive account
 * changes; NIST SP 800-63B rev 4 §4.6 on recovery channels) and the actor must hold everything that
 * principal holds: whoever controls its authentication acts as it (src/authz/conferral.ts).
 */
export const requireHoldOn = (state: Reader, meta: CommandMeta, principalId: string): Authority => {
  requireElevation(meta);
  return requireDominates(state, meta, principalId);
};

const livePrincipal = (state: Reader, principalId: string): PrincipalView => {
  const p = getPrincipal(state, principalId);
  if (!p) throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${principalId}`, { principalId });
  if (p.deleted)
    throw new AppError('PRINCIPAL_DELETED', `principal ${principalId} is deleted`, { principalId });
  return p;
};

const changeable = (state: Reader, principalId: string): PrincipalView => {
  const p = livePrincipal(state, principalId);
  if (p.id === ANONYMOUS)
    throw new AppError('PRINCIPAL_PROTECTED', 'the anonymous principal is built in');
  return p;
};

const claimEmail = (state: Reader, raw: string, self?: string) => {
  const e = normalize.email('email', raw);
  const holder = principalByEmailKey(state, e.key);
  if (holder !== undefined && holder !== self)
    throw new AppError('EMAIL_TAKEN', 'another principal has this email address', {
      field: 'email',
    });
  return e;
};

const identityEvent = (
  state: Reader,
  input: { identityId: string; directoryId: string; name: string },
  principalId: string,
): DomainEvent => {
  normalize.id('identityId', input.identityId);
  if (!getDirectory(state, input.directoryId)) {
    throw new AppError('DIRECTORY_NOT_FOUND', `no identity directory ${input.directoryId}`, {
      field: 'directoryId',
    });
  }
  if (getIdentity(state, input.identityId))
    throw new AppError('ID_TAKEN', `identity id ${input.identityId} is in use`);
  // Taken also by a name that looks the same (UTS #39 skeleton: `аdmin` next to `admin`).
  const { name, key, skeleton } = normalize.claimedName('name', input.name);
  if (identityLookalike(state, input.directoryId, skeleton)) {
    throw new AppError(
      'IDENTITY_NAME_TAKEN',
      `the name, or one that looks like it, is taken in directory ${input.directoryId}`,
      { field: 'name' },
    );
  }
  return {
    type: 'IdentityAdded',
    data: {
      identityId: input.identityId,
      directoryId: input.directoryId,
      principalId,
      pii: { name, key, skeleton },
    },
  };
};

export type RegisterPrincipalInput = {
  readonly principalId: string;
  readonly kind: 'person' | 'service';
  readonly briefName: string;
  readonly fullName?: string;
  readonly email?: string;
  readonly phone?: string;
  /** The client chose `principalId` (src/authz/conferral.ts `requireMayChooseId`). */
  readonly idChosen?: boolean;
  /** Optionally a first identity, in the same atomic change. */
  readonly identity?: {
    readonly identityId: string;
    readonly directoryId?: string;
    readonly name: string;
  };
};

export const registerPrincipal = (
  input: RegisterPrincipalInput,
): Command<{ principalId: string; identityId?: string }> => ({
  name: 'RegisterPrincipal',
  decide(state, meta) {
    const authority = [
      ...requirePrivilege(state, meta, MANAGE_PRINCIPALS),
      ...(input.idChosen ? requireMayChooseId(state, meta) : []),
    ];
    const principalId = normalize.id('principalId', input.principalId);
    if (getPrincipal(state, principalId))
      throw new AppError('ID_TAKEN', `principal id ${principalId} is in use`);
    const briefName = normalize.text('briefName', input.briefName, 200);
    const fullName =
      input.fullName === undefined ? briefName : normalize.text('fullName', input.fullName, 400);
    const e = input.email === undefined ? undefined : claimEmail(state, input.email);
    const phone = input.phone === undefined ? null : normalize.phone('phone', input.phone);
    const events: DomainEvent[] = [
      {
        type: 'PrincipalRegistered',
        data: {
          principalId,
          kind: input.kind,
          pii: { briefName, fullName, email: e?.email ?? null, emailKey: e?.key ?? null, phone },
        },
      },
    ];
    if (input.identity) {
      events.push(
        identityEvent(
          state,
          { ...input.identity, directoryId: input.identity.directoryId ?? INTERNAL_DIRECTORY },
          principalId,
        ),
      );
    }
    return {
      events,
      result: { principalId, ...(input.identity ? { identityId: input.identity.identityId } : {}) },
      authority,
    };
  },
});

export type ChangeProfileInput = {
  readonly principalId: string;
  readonly briefName?: string;
  readonly fullName?: string;
  readonly email?: string | null;
  readonly phone?: string | null;
};

export const changeProfile = (input: ChangeProfileInput): Command<{ changed: string[] }> => ({
  name: 'ChangePrincipalProfile',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    const p = changeable(state, input.principalId);
    const pii: EventPayload<'PrincipalProfileChanged'>['pii'] = {};
    if (input.briefName !== undefined) {
      const v = normalize.text('briefName', input.briefName, 200);
      if (v !== p.briefName) pii.briefName = v;
    }
    if (input.fullName !== undefined) {
      const v = normalize.text('fullName', input.fullName, 400);
      if (v !== p.fullName) pii.fullName = v;
    }
    if (input.email !== undefined) {
      const e =
        input.email === null ? { email: null, key: null } : claimEmail(state, input.email, p.id);
      if (e.email !== p.email) Object.assign(pii, { email: e.email, emailKey: e.key });
    }
    if (input.phone !== undefined) {
      const v = input.phone === null ? null : normalize.phone('phone', input.phone);
      if (v !== p.phone) pii.phone = v;
    }
    const changed = Object.keys(pii).filter((k) => k !== 'emailKey');
    // Setting what is already there records nothing: the command is idempotent.
    if (changed.length === 0) return { events: [], result: { changed } };
    // Email and phone are recovery channels: a reset mail goes where the email says (issue 14 row 2).
    const hold =
      changed.includes('email') || changed.includes('phone')
        ? requireHoldOn(state, meta, p.id)
        : [];
    return {
      events: [{ type: 'PrincipalProfileChanged', data: { principalId: p.id, pii } }],
      result: { changed },
      authority: [...manage, ...hold],
    };
  },
});

/** Deactivating or deleting a principal ends its sessions (`principal-disabled`). A session
 * started concurrently at another site is never valid either: session checks join the principal. */
const endSessions = (state: Reader, principalId: string): DomainEvent[] =>
  openSessionsOf(state, principalId).map((sessionId) => ({
    type: 'SessionEnded',
    data: { sessionId, reason: 'principal-disabled' },
  }));

/** Checks a list of credential directory ids names existing ones; null or empty means any. */
const credentialDirectoryList = (
  read: Reader,
  ids: readonly string[] | null | undefined,
): string[] | null | undefined => {
  if (ids == null) return ids;
  if (ids.length > 16) throw invalid('credentialDirectoryIds', 'at most 16 directories');
  for (const id of ids)
    if (!credentialDirectoryExists(read, id))
      throw new AppError('CREDENTIAL_DIRECTORY_NOT_FOUND', `no credential directory ${id}`, {
        field: 'credentialDirectoryIds',
      });
  return [...new Set(ids)].sort();
};

export const deactivatePrincipal = (input: {
  principalId: string;
  reason?: string;
}): Command<{ active: boolean }> => ({
  name: 'DeactivatePrincipal',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    const p = livePrincipal(state, input.principalId);
    const reason = normalize.text('reason', input.reason ?? '', 500, { optional: true });
    if (!p.active) return { events: [], result: { active: false } };
    const hold = requireHoldOn(state, meta, p.id);
    return {
      events: [
        { type: 'PrincipalDeactivated', data: { principalId: p.id, reason } },
        ...endSessions(state, p.id),
      ],
      result: { active: false },
      authority: [...manage, ...hold],
    };
  },
});

export const activatePrincipal = (input: {
  principalId: string;
}): Command<{ active: boolean }> => ({
  name: 'ActivatePrincipal',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    const p = livePrincipal(state, input.principalId);
    if (p.active) return { events: [], result: { active: true } };
    const hold = requireHoldOn(state, meta, p.id);
    return {
      events: [{ type: 'PrincipalActivated', data: { principalId: p.id } }],
      result: { active: true },
      authority: [...manage, ...hold],
    };
  },
});

export const deletePrincipal = (input: { principalId: string }): Command<{ deleted: boolean }> => ({
  name: 'DeletePrincipal',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    const p = getPrincipal(state, input.principalId);
    if (!p) throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${input.principalId}`);
    if (p.id === ANONYMOUS)
      throw new AppError('PRINCIPAL_PROTECTED', 'the anonymous principal is built in');
    if (p.deleted) return { events: [], result: { deleted: true } };
    const hold = requireHoldOn(state, meta, p.id);
    return {
      events: [
        { type: 'PrincipalDeleted', data: { principalId: p.id } },
        ...endSessions(state, p.id),
      ],
      result: { deleted: true },
      authority: [...manage, ...hold],
    };
  },
});

export const addIdentity = (input: {
  identityId: string;
  principalId: string;
  directoryId?: string;
  name: string;
}): Command<{ identityId: string }> => ({
  name: 'AddIdentity',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    const p = livePrincipal(state, input.principalId);
    // A name to log in with is a way into the principal.
    const hold = requireHoldOn(state, meta, p.id);
    const event = identityEvent(
      state,
      { ...input, directoryId: input.directoryId ?? INTERNAL_DIRECTORY },
      p.id,
    );
    return {
      events: [event],
      result: { identityId: input.identityId },
      authority: [...manage, ...hold],
    };
  },
});

export const removeIdentity = (input: { identityId: string }): Command<{ removed: boolean }> => ({
  name: 'RemoveIdentity',
  decide(state, meta) {
    const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    const i = getIdentity(state, input.identityId);
    if (!i) throw new AppError('IDENTITY_NOT_FOUND', `no identity ${input.identityId}`);
    if (i.removed) return { events: [], result: { removed: true } };
    const hold = requireHoldOn(state, meta, i.principalId);
    return {
      events: [{ type: 'IdentityRemoved', data: { identityId: i.id } }],
      result: { removed: true },
      authority: [...manage, ...hold],
    };
  },
});

export const defineIdentityDirectory = (input: {
  directoryId: string;
  name: string;
  description?: string;
  /** Only credentials of these credential directories count for its identities; absent: any. */
  credentialDirectoryIds?: readonly string[] | null;
  /** The client chose `directoryId` (src/authz/conferral.ts `requireMayChooseId`). */
  idChosen?: boolean;
}): Command<{ directoryId: string }> => ({
  name: 'DefineIdentityDirectory',
  decide(state, meta) {
    const authority = [
      ...requirePrivilege(state, meta, MANAGE_PRINCIPALS),
      ...(input.idChosen ? requireMayChooseId(state, meta) : []),
    ];
    const directoryId = normalize.id('directoryId', input.directoryId);
    if (getDirectory(state, directoryId))
      throw new AppError('ID_TAKEN', `directory id ${directoryId} is in use`);
    const { name, key, skeleton } = normalize.claimedName('name', input.name);
    if (directoryHolding(state, skeleton))
      throw new AppError('DIRECTORY_NAME_TAKEN', 'an identity directory has this name', {
        field: 'name',
      });
    const description = normalize.text('description', input.description ?? '', 1000, {
      optional: true,
    });
    const credentialDirectoryIds = credentialDirectoryList(state, input.credentialDirectoryIds);
    return {
      events: [
        {
          type: 'IdentityDirectoryDefined',
          data: {
            directoryId,
            name,
            key,
            skeleton,
            description,
            ...(credentialDirectoryIds ? { credentialDirectoryIds } : {}),
          },
        },
      ],
      result: { directoryId },
      authority,
    };
  },
});

/** Ties an identity directory to credential directories (null: any), or changes its description. */
export const changeIdentityDirectory = (input: {
  directoryId: string;
  description?: string;
  credentialDirectoryIds?: readonly string[] | null;
}): Command<{ directoryId: string }> => ({
  name: 'ChangeIdentityDirectory',
  decide(state, meta) {
    let authority = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
    const directoryId = normalize.id('directoryId', input.directoryId);
    if (!getDirectory(state, directoryId))
      throw new AppError('DIRECTORY_NOT_FOUND', `no identity directory ${directoryId}`);
    const data: EventPayload<'IdentityDirectoryChanged'> = { directoryId };
    if (input.description !== undefined)
      data.description = normalize.text('description', input.description, 1000, {
        optional: true,
      });
    if (input.credentialDirectoryIds !== undefined) {
      const ids = credentialDirectoryList(state, input.credentialDirectoryIds);
      data.credentialDirectoryIds = ids && ids.length > 0 ? ids : null;
      // Which credentials count for a directory's identities decides every login through it,
      // both ways: widened it lets weaker credentials in, narrowed it locks everyone out (issue
      // 14 row 3). Elevated, by someone who holds all that the directory's principals hold.
      requireElevation(meta);
      authority = [...authority, ...requireDominatesDirectory(state, meta, directoryId)];
    }
    if (Object.keys(data).length === 1) throw invalid('body', 'nothing to change');
    return {
      events: [{ type: 'IdentityDirectoryChanged', data }],
      result: { directoryId },
      authority,
    };
  },
});
