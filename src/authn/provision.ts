// Just-in-time provisioning: a person the external directory knows logs in for the first time
// through the identity directory it provisions, and gets a principal, an identity (the
// directory's login name) and a link to the directory's entry. The ids derive from the directory
// and the entry's stable id (entryUUID, objectGUID), never from the node or the moment: two sites
// provisioning the same person while cut off write the same ids, and once they exchange events
// there is one principal (the registrations merge, projections/principals.ts; the identity and
// the link keep the earliest, projections/identities.ts and credentials.ts).
import { createHash } from 'node:crypto';
import { observedGroups } from '../../projections/authz.ts';
import { accountOfEntry } from '../../projections/credentials.ts';
import { getIdentity, identityLookalike } from '../../projections/identities.ts';
import { getPrincipal, principalByEmailKey } from '../../projections/principals.ts';
import { AppError } from '../errors.ts';
import type { DomainEvent } from '../events/catalogue.ts';
import * as normalize from '../events/normalize.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import type { Account } from './directory-port.ts';

/** `<kind>-` and 32 hex digits of SHA-256 over the directory and the entry id. */
export const derivedId = (
  kind: 'principal' | 'identity' | 'credential',
  directoryId: string,
  entryId: string,
): string => {
  const prefix = { principal: 'dp', identity: 'di', credential: 'dc' }[kind];
  const h = createHash('sha256').update(`authlog:${kind}\0${directoryId}\0${entryId}`).digest();
  return `${prefix}-${h.subarray(0, 16).toString('hex')}`;
};

const orUndefined = <T>(f: () => T): T | undefined => {
  try {
    return f();
  } catch {
    return undefined;
  }
};

/** The directory's email, if it is one and no other principal holds it (it is then left out:
 * the directory does not get to take another principal's recovery address). */
const emailOf = (state: Reader, raw: string | undefined, self: string) => {
  const e = raw === undefined ? undefined : orUndefined(() => normalize.email('email', raw));
  if (e === undefined) return { email: null, emailKey: null };
  const holder = principalByEmailKey(state, e.key);
  return holder === undefined || holder === self
    ? { email: e.email, emailKey: e.key }
    : { email: null, emailKey: null };
};

export type ProvisionInput = {
  /** The `ldap` credential directory. */
  readonly directoryId: string;
  readonly identityDirectoryId: string;
  readonly account: Account;
};

/** Registers the account's principal, identity and link, unless this node has them already. */
export const provisionAccount = (input: ProvisionInput): Command<{ principalId: string }> => ({
  name: 'ProvisionFromDirectory',
  decide(state) {
    const { directoryId, identityDirectoryId, account } = input;
    const linked = accountOfEntry(state, directoryId, account.entryId);
    if (linked !== undefined) return { events: [], result: { principalId: linked.principalId } };
    const principalId = derivedId('principal', directoryId, account.entryId);
    const identityId = derivedId('identity', directoryId, account.entryId);
    const credentialId = derivedId('credential', directoryId, account.entryId);
    const events: DomainEvent[] = [];
    const existing = getPrincipal(state, principalId);
    if (existing?.deleted)
      throw new AppError('PRINCIPAL_DELETED', `principal ${principalId} is deleted`);
    if (existing === undefined) {
      const name = orUndefined(() => normalize.text('briefName', account.name, 200)) ?? principalId;
      const briefName =
        orUndefined(() => normalize.text('briefName', account.briefName ?? '', 200)) || name;
      const fullName =
        orUndefined(() => normalize.text('fullName', account.fullName ?? '', 400)) || briefName;
      events.push({
        type: 'PrincipalRegistered',
        data: {
          principalId,
          kind: 'person',
          pii: {
            briefName,
            fullName,
            ...emailOf(state, account.email, principalId),
            phone: null,
          },
          source: { directoryId, entryId: account.entryId },
        },
      });
    }
    if (getIdentity(state, identityId) === undefined) {
      const claimed = normalize.claimedName('name', account.name);
      // A name some other principal's identity holds (or one that looks like it): no login
      // through it until an administrator sorts the two out.
      const holder = identityLookalike(state, identityDirectoryId, claimed.skeleton);
      if (holder !== undefined && holder.id !== identityId)
        throw new AppError(
          'IDENTITY_NAME_TAKEN',
          `the directory's name for entry ${account.entryId}, or one that looks like it, is taken in directory ${identityDirectoryId}`,
        );
      events.push({
        type: 'IdentityAdded',
        data: { identityId, directoryId: identityDirectoryId, principalId, pii: claimed },
      });
    }
    events.push({
      type: 'DirectoryAccountLinked',
      data: { credentialId, principalId, directoryId, entryId: account.entryId },
    });
    return { events, result: { principalId } };
  },
});

/** What an external role directory said a principal's groups are, read by a node's refresh
 * (src/directories/refresh.ts); recorded only where it changed. */
export const recordObservations = (
  observations: readonly { principalId: string; directoryId: string; groupKeys: string[] }[],
): Command<{ recorded: number }> => ({
  name: 'RecordExternalRoles',
  decide(state) {
    const events: DomainEvent[] = observations
      .filter(({ principalId, directoryId, groupKeys }) => {
        const seen = observedGroups(state, principalId, directoryId);
        return seen === undefined || seen.groupKeys.join('\n') !== groupKeys.join('\n');
      })
      .map((data) => ({ type: 'ExternalRolesObserved', data }));
    return { events, result: { recorded: events.length } };
  },
});
