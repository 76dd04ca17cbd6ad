// Logging in with an external account (social and OpenID Connect logins, issue 18 item 4): what
// happens once src/directories/oidc.ts has proven that the browser's user holds an account at an
// `oidc` directory's provider (issuer + subject). The edge puts that proof in `Presented.external`
// (no client can: it is never read from a request body), and the Login command turns it into the
// directory's evidence like any credential, with lockout, policies, ties and audit unchanged.
//
// Which principal an external account logs in as: the one its live link names. A link is made
//   - by the principal itself, from its own elevated session (a link ceremony);
//   - at a first login, to the principal that holds an address the provider marks verified — only
//     where the directory allows it, and only when that principal verified the address here too;
//   - at a first login, by registering a new principal, where the directory allows it;
// and never by an address the provider does not mark verified. That is the pre-account-takeover
// class ("Pre-hijacked accounts: An Empirical Study of Security Failures in User Account Creation
// on the Web", Sudhodanan & Paverd, USENIX Security 2022): an attacker who registers the
// victim's address first (here, or at a lax provider) must not end up sharing the victim's
// principal. Requiring the address verified on both sides closes the "classic-federated merge"
// and "unexpired session" variants; ASVS 5.0 V10.4 / V6.8 and NIST SP 800-63C (the RP binds a
// federated identifier to an account only through the subscriber's own action or a trusted
// attribute) say the same.
//
// Ids of a registration derive from the directory and the account (provision.ts `derivedId`), so
// two sites registering the same account while cut off write the same principal, identity and
// link, and converge to one principal. A revoked link (an unlink) is terminal, and the account
// never links again by itself: only the principal's own ceremony links it again.
import { createHash } from 'node:crypto';
import { emailKeyVerified } from '../../projections/account-tokens.ts';
import { getCredentialDirectory, otherWaysInCount } from '../../projections/credentials.ts';
import {
  type ExternalAccount,
  externalAccount,
  externalAccountHolder,
  externalLinkExisted,
  type OidcSettings,
} from '../../projections/external-accounts.ts';
import { getIdentity, identityLookalike } from '../../projections/identities.ts';
import { getPrincipal, principalByEmailKey } from '../../projections/principals.ts';
import { getSessionRecord } from '../../projections/sessions.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireDominates } from '../authz/conferral.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError } from '../errors.ts';
import type { DomainEvent } from '../events/catalogue.ts';
import * as normalize from '../events/normalize.ts';
import type { Command } from '../node/command.ts';
import { newId } from '../node/node.ts';
import type { Reader } from '../readmodel/projection.ts';
import { directoryAllowed, type EvidenceProvider } from './evidence.ts';
import { evidenceOf } from './factors.ts';
import { type LoggedIn, startSession } from './flows/login.ts';
import type { AuthnPorts, Caller } from './flows/ports.ts';
import { attemptKey } from './flows/throttle.ts';
import { MANAGE_PRINCIPALS } from './principals.ts';
import { derivedId } from './provision.ts';
import type { Transport } from './sessions/token.ts';

/** An account a provider proved (src/directories/oidc.ts `ProvenAccount`). */
export type ExternalIdentity = {
  readonly directoryId: string;
  readonly issuer: string;
  readonly subject: string;
  readonly email: string | undefined;
  readonly emailVerified: boolean;
  readonly name: string | undefined;
  readonly username: string | undefined;
};

/** The unique-claim key of an account within its directory: SHA-256 of issuer, NUL, subject
 * (a subject is unique only within its issuer: OIDC Core 2). */
export const accountKeyOf = (issuer: string, subject: string): string =>
  createHash('sha256').update(`${issuer}\0${subject}`).digest('hex');

/** What the principal sees in its listing: the address, else the login name, else the subject. */
const labelOf = (a: ExternalIdentity): string =>
  (a.email ?? a.username ?? `${a.issuer} ${a.subject}`).slice(0, 320);

/** The credential id of a link by verified address: one per (account, principal), so two sites
 * linking the same account to the same principal write one link. */
const emailLinkId = (directoryId: string, accountKey: string, principalId: string): string =>
  `xe-${createHash('sha256')
    .update(`authlog:external-link\0${directoryId}\0${accountKey}\0${principalId}`)
    .digest()
    .subarray(0, 16)
    .toString('hex')}`;

const orUndefined = <T>(f: () => T): T | undefined => {
  try {
    return f();
  } catch {
    return undefined;
  }
};

// ---------------------------------------------------------------------------------------------
// Evidence

/**
 * Trust (or whatever the directory declares) for the principal the external account's live link
 * names. `failed` when the account links to nobody, or to another principal: the login is then
 * refused and recorded like a wrong password.
 */
export const externalAccountProvider: EvidenceProvider = {
  method: 'oidc',
  decide(context) {
    const x = context.presented.external;
    if (x === undefined || !directoryAllowed(context, x.directoryId)) return 'none';
    const dir = getCredentialDirectory(context.state, x.directoryId);
    if (dir?.kind !== 'oidc') return { failed: 'oidc:no-directory' };
    const link = externalAccountHolder(context.state, x.directoryId, x.accountKey);
    if (link === undefined || link.principalId !== context.principalId)
      return { failed: 'oidc:not-linked' };
    const [first, ...rest] = dir.evidences;
    if (first === undefined) return 'none';
    const { evidences, expiresAt } = evidenceOf(
      context.state,
      x.directoryId,
      [first, ...rest],
      context.now,
    );
    return { evidences, method: 'oidc', credentialId: link.credentialId, expiresAt, events: [] };
  },
};

// ---------------------------------------------------------------------------------------------
// Commands

type Resolved = {
  readonly principalId: string;
  readonly via: 'linked' | 'verified-email' | 'registered';
};

const linkEvent = (
  credentialId: string,
  principalId: string,
  account: ExternalIdentity,
  via: 'registered' | 'verified-email' | 'ceremony',
): DomainEvent => ({
  type: 'ExternalAccountLinked',
  data: {
    credentialId,
    principalId,
    directoryId: account.directoryId,
    issuer: account.issuer,
    subject: account.subject,
    accountKey: accountKeyOf(account.issuer, account.subject),
    via,
    pii: { label: labelOf(account) },
  },
});

/** A verified address the provider proved, normalized; undefined for any other. */
const verifiedEmailKey = (account: ExternalIdentity) =>
  account.emailVerified && account.email !== undefined
    ? orUndefined(() => normalize.email('email', account.email ?? ''))
    : undefined;

/** The events that register a principal for an account seen for the first time. */
const registration = (
  state: Reader,
  account: ExternalIdentity,
  settings: OidcSettings,
  accountKey: string,
): { events: DomainEvent[]; principalId: string } | undefined => {
  const { directoryId } = account;
  const principalId = derivedId('principal', directoryId, accountKey);
  const credentialId = derivedId('credential', directoryId, accountKey);
  // Registered once and unlinked since: not again by itself (nor revived: terminal).
  if (getPrincipal(state, principalId) !== undefined || externalLinkExisted(state, credentialId))
    return undefined;
  const display = (raw: string | undefined, max: number) =>
    raw === undefined ? undefined : orUndefined(() => normalize.text('name', raw, max));
  const briefName =
    display(account.username, 200) ?? display(account.name, 200) ?? `${directoryId} user`;
  const fullName = display(account.name, 400) ?? briefName;
  // Only a verified address becomes the principal's, and only if nobody holds it.
  const e = verifiedEmailKey(account);
  const free = e !== undefined && principalByEmailKey(state, e.key) === undefined;
  const events: DomainEvent[] = [
    {
      type: 'PrincipalRegistered',
      data: {
        principalId,
        kind: 'person',
        pii: {
          briefName,
          fullName,
          email: free ? e.email : null,
          emailKey: free ? e.key : null,
          phone: null,
        },
        source: { directoryId, entryId: accountKey },
      },
    },
  ];
  // The account's name as an identity, when it is one authlog accepts and nobody holds it; the
  // login itself never goes through a name.
  const identityId = derivedId('identity', directoryId, accountKey);
  const raw = account.username ?? account.email;
  const claimed =
    raw === undefined ? undefined : orUndefined(() => normalize.claimedName('name', raw));
  if (
    claimed !== undefined &&
    getIdentity(state, identityId) === undefined &&
    identityLookalike(state, settings.identityDirectoryId, claimed.skeleton) === undefined
  )
    events.push({
      type: 'IdentityAdded',
      data: { identityId, directoryId: settings.identityDirectoryId, principalId, pii: claimed },
    });
  events.push(linkEvent(credentialId, principalId, account, 'registered'));
  return { events, principalId };
};

/**
 * The principal an external account logs in as, linking or registering it first where the
 * directory allows; EXTERNAL_ACCOUNT_NOT_LINKED when none.
 */
export const resolveExternalAccount = (input: {
  readonly account: ExternalIdentity;
  readonly settings: OidcSettings;
}): Command<Resolved> => ({
  name: 'ResolveExternalAccount',
  decide(state) {
    const { account, settings } = input;
    const accountKey = accountKeyOf(account.issuer, account.subject);
    const held = externalAccountHolder(state, account.directoryId, accountKey);
    if (held !== undefined)
      return { events: [], result: { principalId: held.principalId, via: 'linked' } };
    // (b) An address the provider marks verified, that a principal holds and verified here.
    const e = settings.linkVerifiedEmail ? verifiedEmailKey(account) : undefined;
    const holder = e === undefined ? undefined : principalByEmailKey(state, e.key);
    if (e !== undefined && holder !== undefined && emailKeyVerified(state, holder, e.key)) {
      const credentialId = emailLinkId(account.directoryId, accountKey, holder);
      if (!externalLinkExisted(state, credentialId))
        return {
          events: [linkEvent(credentialId, holder, account, 'verified-email')],
          result: { principalId: holder, via: 'verified-email' },
        };
    }
    // A first login registers a principal, where the directory allows it.
    const registered = settings.registerOnFirstLogin
      ? registration(state, account, settings, accountKey)
      : undefined;
    if (registered !== undefined)
      return {
        events: registered.events,
        result: { principalId: registered.principalId, via: 'registered' },
      };
    throw new AppError(
      'EXTERNAL_ACCOUNT_NOT_LINKED',
      `this ${account.directoryId} account is linked to no principal`,
    );
  },
});

/**
 * (a) The link ceremony's end: the principal, from the session that started it (still live),
 * links the account the provider proved. EXTERNAL_ACCOUNT_TAKEN when another principal's link
 * holds it; nothing when this principal's does.
 */
export const linkExternalAccount = (input: {
  readonly sessionId: string;
  readonly account: ExternalIdentity;
  readonly credentialId: string;
}): Command<{ credentialId: string; linked: boolean }> => ({
  name: 'LinkExternalAccount',
  decide(state, meta) {
    const r = getSessionRecord(state, input.sessionId);
    if (
      r === undefined ||
      r.ended ||
      r.principalId !== meta.actor ||
      Date.parse(r.expiresAt) <= meta.now
    )
      throw new AppError('UNAUTHENTICATED', 'the session that started the link has ended');
    const dir = getCredentialDirectory(state, input.account.directoryId);
    if (dir?.kind !== 'oidc')
      throw new AppError(
        'CREDENTIAL_DIRECTORY_NOT_FOUND',
        `no oidc directory ${input.account.directoryId}`,
      );
    const key = accountKeyOf(input.account.issuer, input.account.subject);
    const held = externalAccountHolder(state, input.account.directoryId, key);
    if (held?.principalId === r.principalId)
      return { events: [], result: { credentialId: held.credentialId, linked: false } };
    if (held !== undefined)
      throw new AppError(
        'EXTERNAL_ACCOUNT_TAKEN',
        'this external account is linked to another principal: unlink it there first',
      );
    return {
      events: [linkEvent(input.credentialId, r.principalId, input.account, 'ceremony')],
      result: { credentialId: input.credentialId, linked: true },
    };
  },
});

/** Unlinks an external account (terminal: CredentialRevoked). The principal itself, elevated, or
 * a holder of authlog.principals.manage, elevated. */
export const unlinkExternalAccount = (input: {
  readonly principalId: string;
  readonly credentialId: string;
}): Command<ExternalAccount> => ({
  name: 'UnlinkExternalAccount',
  decide(state, meta) {
    // As for revoking any credential (tokens.ts): self, or a manager of principals it dominates.
    const authority =
      meta.actor === input.principalId
        ? []
        : [
            ...requirePrivilege(state, meta, MANAGE_PRINCIPALS),
            ...requireDominates(state, meta, input.principalId),
          ];
    requireElevation(meta);
    const link = externalAccount(state, input.credentialId);
    if (link === undefined || link.principalId !== input.principalId || link.revoked)
      throw new AppError(
        'CREDENTIAL_NOT_FOUND',
        `principal ${input.principalId} has no linked external account ${input.credentialId}`,
      );
    // A principal does not lock itself out: its last way in stays until it adds another (an
    // administrator may still remove it, as when someone leaves).
    if (
      meta.actor === input.principalId &&
      otherWaysInCount(
        state,
        input.principalId,
        link.credentialId,
        new Date(meta.now).toISOString(),
      ) === 0
    )
      throw new AppError(
        'LAST_WAY_IN',
        'this account is your only way to log in: set a password or register a passkey first',
      );
    return {
      events: [
        {
          type: 'CredentialRevoked',
          data: { credentialId: link.credentialId, reason: 'unlinked' },
        },
      ],
      result: { ...link, revoked: true },
      authority,
    };
  },
});

/** A failed link ceremony, for the audit trail of the principal that started it. Its reason is
 * `link:…`, which does not count towards a lockout (nobody guessed anything). */
export const recordLinkFailure = (input: {
  readonly principalId: string;
  readonly reason: string;
}): Command<void> => ({
  name: 'RecordLinkFailure',
  decide(state) {
    if (getPrincipal(state, input.principalId) === undefined)
      return { events: [], result: undefined };
    return {
      events: [
        {
          type: 'AuthenticationFailed',
          data: {
            principalId: input.principalId,
            reason: `link:${input.reason}`.slice(0, 50),
            step: 'link',
            pii: { identity: '' },
          },
        },
      ],
      result: undefined,
    };
  },
});

// ---------------------------------------------------------------------------------------------
// The login use case

/**
 * Logs in with an account the provider proved: throttled per account (and per known device), the
 * principal resolved (linking or registering where allowed), then the Login command with the
 * proof presented. AUTHENTICATION_FAILED for any refusal of the Login command (inactive, locked,
 * tie): one answer, as for every login.
 */
export const logInExternal = async (
  ports: AuthnPorts,
  caller: Caller,
  input: {
    readonly account: ExternalIdentity;
    readonly settings: OidcSettings;
    readonly transport: Transport;
  },
): Promise<LoggedIn> => {
  const { account, settings, transport } = input;
  const accountKey = accountKeyOf(account.issuer, account.subject);
  const known = externalAccountHolder(ports.read, account.directoryId, accountKey)?.principalId;
  const device = known === undefined ? undefined : caller.devices.of(known);
  ports.throttle.take([
    known === undefined
      ? attemptKey({ identity: accountKey, directoryId: account.directoryId })
      : attemptKey({ principalId: known }, device),
  ]);
  const { principalId } = await caller.execute(resolveExternalAccount({ account, settings }));
  const presented = { external: { directoryId: account.directoryId, accountKey } };
  return startSession(ports, caller, {
    principalId,
    identity: labelOf(account).slice(0, 256),
    directory: settings.identityDirectoryId,
    device,
    presented,
    transport,
  });
};

/** A fresh credential id for a ceremony link (ULID: one user action at one site). */
export const newLinkId = (): string => newId();
