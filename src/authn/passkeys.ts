// Passkeys and security keys (W3C WebAuthn Level 3; FIDO2) through @simplewebauthn/server: the
// ceremonies' challenges, registration, and the evidence provider. A passkey gives `ownership`,
// and `inherence` as well when the authenticator verified its user (L3 6.1 UV flag; a
// multi-factor cryptographic authenticator, NIST SP 800-63B rev 4 section 5.1.9). Both are
// phishing-resistant (SP 800-63B rev 4 3.2.5): the signature covers the RP ID and the client
// data names the origin, and both are checked here against this deployment's settings.
//
// Challenges (L3 13.4.3) are 32 random bytes, single use, valid for the ceremony timeout (two
// minutes by default), and node-local: kept in this process's memory, never replicated, so the
// options and the answer of one ceremony go to the same node. Each is bound to what asked for it:
// the session (a second factor, an elevation), the actor and its session (a registration), or,
// for a passwordless login where nobody is known yet, the ceremony id and, for a browser, a
// `__Host-` cookie set with the options (src/http/routes/passkeys.ts).
//
// Signature counter (L3 6.1.1): the highest counter seen anywhere is a max register
// (projections/factors.ts). An assertion whose counter is not above it, when either is non-zero,
// is refused and recorded (AuthenticationFailed `passkey:counter`): a possibly cloned
// authenticator. Synced passkeys send 0 every time and are never refused for it. Two sites cut
// off from each other can each accept a counter the other has not seen yet; arrival order then
// differs, but a max register does not care, and only one counter accepted at two sites (which a
// single authenticator never produces) is listed as a conflict.
//
// Verification is async (the library's signature check), so it runs in the provider's `prepare`
// with the counter left out; `decide` then checks the counter against the read model inside the
// writer queue, so of two submissions racing on one node the second sees the first's use.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { cose, decodeCredentialPublicKey, isoBase64URL } from '@simplewebauthn/server/helpers';
import { PASSKEY_DIRECTORY } from '../../projections/credentials.ts';
import {
  getPasskeyRecord,
  type PasskeyRecord,
  passkeyByWebAuthnId,
  passkeyRecordsOf,
  unrevokedPasskeyCount,
  webauthnIdRegistered,
} from '../../projections/factors.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError, invalid } from '../errors.ts';
import { text } from '../events/normalize.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { directoryAllowed, type EvidenceProvider } from './evidence.ts';
import {
  credentialDirectory,
  credentialOwner,
  evidenceOf,
  isLive,
  validUntil as parseValidUntil,
} from './factors.ts';
import type { WebAuthnConfig } from './passkey-config.ts';

/** EdDSA (Ed25519), ES256, RS256 (RFC 9053): what authenticators make, strongest first. */
export const PASSKEY_ALGORITHMS = [-8, -7, -257];
/** More passkeys per principal than this is a mistake, not a need. */
export const MAX_PASSKEYS_PER_PRINCIPAL = 20;
/** Ceremonies in progress on one node at most; the auth routes' rate limits keep far below. */
export const MAX_CEREMONIES = 100_000;

// ---------------------------------------------------------------------------------------------
// Ceremonies (node-local)

export type CeremonyKind = 'login' | 'session' | 'registration';

export type Ceremony = {
  readonly kind: CeremonyKind;
  /** base64url, as the options carry it and the client data must echo it. */
  readonly challenge: string;
  readonly expiresAt: number;
  /** The session that asked (second factor, elevation, a session's registration); null: none. */
  readonly sessionId: string | null;
  /** SHA-256 of the ceremony cookie a browser's passwordless login was given; null: none. */
  readonly browser: string | null;
  /** Registration: who asked, for whom, and the user handle the authenticator will keep. */
  readonly registration?: {
    readonly actor: string;
    readonly principalId: string;
    readonly userHandle: string;
  };
};

export type Ceremonies = {
  /** Keeps a new ceremony; throws RATE_LIMITED when the node holds too many. */
  issue(ceremony: Omit<Ceremony, 'expiresAt'>): { readonly ceremonyId: string };
  /** Removes and answers the ceremony: whatever follows, it is used (single use). Expired or
   * unknown: undefined. */
  take(ceremonyId: string): Ceremony | undefined;
};

/** In memory: insertion order is expiry order, so the expired ones are swept from the front. */
export const memoryCeremonies = (timeoutMs: number, now: () => number): Ceremonies => {
  const held = new Map<string, Ceremony>();
  const sweep = (at: number) => {
    for (const [id, c] of held) {
      if (c.expiresAt > at) break;
      held.delete(id);
    }
  };
  return {
    issue(ceremony) {
      const at = now();
      sweep(at);
      if (held.size >= MAX_CEREMONIES)
        throw new AppError(
          'RATE_LIMITED',
          'too many passkey ceremonies in progress; retry shortly',
        );
      const ceremonyId = randomBytes(16).toString('base64url');
      held.set(ceremonyId, { ...ceremony, expiresAt: at + timeoutMs });
      return { ceremonyId };
    },
    take(ceremonyId) {
      const c = held.get(ceremonyId);
      if (c === undefined) return undefined;
      held.delete(ceremonyId);
      return c.expiresAt > now() ? c : undefined;
    },
  };
};

/** A node's passkey settings and its ceremonies in progress. */
export type Passkeys = {
  readonly config: WebAuthnConfig;
  readonly ceremonies: Ceremonies;
};

export const createPasskeys = (config: WebAuthnConfig, now: () => number = Date.now): Passkeys => ({
  config,
  ceremonies: memoryCeremonies(config.timeoutMs, now),
});

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

const sameHash = (a: string, b: string): boolean =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** A fresh secret for the ceremony cookie, and what the ceremony keeps of it. */
const browserBinding = (): { readonly secret: string; readonly hash: string } => {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: sha256(secret) };
};

const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** A credential id as the client sends it: base64url of at most 1023 bytes (L3 5.1 rawId). */
export const isWebAuthnId = (id: unknown): id is string =>
  typeof id === 'string' && id.length > 0 && id.length <= 1364 && BASE64URL.test(id);

const transportsOf = (r: PasskeyRecord): AuthenticatorTransportFuture[] =>
  r.transports as AuthenticatorTransportFuture[];

// ---------------------------------------------------------------------------------------------
// Authentication options

export type IssuedOptions = {
  readonly ceremonyId: string;
  readonly options: PublicKeyCredentialRequestOptionsJSON;
};

/**
 * A passwordless, username-less login (L3 7.2 with an empty allowCredentials: the authenticator
 * offers its discoverable credentials; the one chosen names its principal). User verification is
 * required: without a password, the passkey is the whole login (SP 800-63B rev 4 5.1.9.1).
 * `browser`: bind the ceremony to a cookie whose secret is answered here for the caller to set.
 */
export const loginOptions = async (
  passkeys: Passkeys,
  browser: boolean,
): Promise<IssuedOptions & { readonly browserSecret?: string }> => {
  const options = await generateAuthenticationOptions({
    rpID: passkeys.config.rpId,
    challenge: randomBytes(32),
    timeout: passkeys.config.timeoutMs,
    userVerification: 'required',
    allowCredentials: [],
  });
  const binding = browser ? browserBinding() : undefined;
  const { ceremonyId } = passkeys.ceremonies.issue({
    kind: 'login',
    challenge: options.challenge,
    sessionId: null,
    browser: binding?.hash ?? null,
  });
  return { ceremonyId, options, ...(binding ? { browserSecret: binding.secret } : {}) };
};

/**
 * A second factor or an elevation for the caller's own session: the principal's live passkeys
 * are offered (security keys need not be discoverable), user verification preferred (inherence
 * only when it happened). Bound to the session.
 */
export const sessionOptions = async (
  passkeys: Passkeys,
  read: Reader,
  session: { readonly sessionId: string; readonly principalId: string },
  now: number,
): Promise<IssuedOptions> => {
  const live = passkeyRecordsOf(read, session.principalId).filter((r) => isLive(r, now));
  if (live.length === 0)
    throw new AppError('CREDENTIAL_NOT_FOUND', 'this principal has no live passkey');
  const options = await generateAuthenticationOptions({
    rpID: passkeys.config.rpId,
    challenge: randomBytes(32),
    timeout: passkeys.config.timeoutMs,
    userVerification: 'preferred',
    allowCredentials: live.map((r) => ({ id: r.webauthnId, transports: transportsOf(r) })),
  });
  const { ceremonyId } = passkeys.ceremonies.issue({
    kind: 'session',
    challenge: options.challenge,
    sessionId: session.sessionId,
    browser: null,
  });
  return { ceremonyId, options };
};

// ---------------------------------------------------------------------------------------------
// Registration

type RegistrationTarget = {
  readonly principalId: string;
  readonly userName: string;
  readonly displayName: string;
  /** The principal's user handle: that of its passkeys, or a new one (L3 14.6.1: random). */
  readonly userHandle: string;
  readonly exclude: readonly { readonly id: string; readonly transports: string[] }[];
};

/** Who may register a passkey for whom, checked before any options are handed out: the owner
 * itself or a manager dominating it (credentialOwner), elevated (OWASP ASVS 5.0 V6.4 / 3.7.1),
 * like enrolling OTP. Records nothing. */
export const beginPasskeyRegistration = (input: {
  readonly principalId: string;
  /** A fresh handle, used if the principal has no passkey yet (randomness stays out of decide). */
  readonly newUserHandle: string;
}): Command<RegistrationTarget> => ({
  name: 'BeginPasskeyRegistration',
  decide(state, meta) {
    const { owner, authority } = credentialOwner(state, meta, input.principalId);
    requireElevation(meta);
    if (unrevokedPasskeyCount(state, owner.id) >= MAX_PASSKEYS_PER_PRINCIPAL)
      throw invalid('principalId', `at most ${MAX_PASSKEYS_PER_PRINCIPAL} passkeys`);
    const all = passkeyRecordsOf(state, owner.id);
    return {
      events: [],
      result: {
        principalId: owner.id,
        userName: owner.briefName,
        displayName: owner.fullName,
        userHandle: all[0]?.userHandle ?? input.newUserHandle,
        exclude: all
          .filter((r) => !r.revoked)
          .map((r) => ({ id: r.webauthnId, transports: r.transports })),
      },
      authority,
    };
  },
});

/** The creation options for a registration the caller may make (L3 5.4), kept as a ceremony
 * bound to the caller and its session. Attestation `none` (L3 5.4.7): the AAGUID is then the
 * authenticator's own claim (docs/passkeys.md). */
export const registrationOptions = async (
  passkeys: Passkeys,
  target: RegistrationTarget,
  caller: { readonly actor: string; readonly sessionId: string | null },
): Promise<{
  readonly ceremonyId: string;
  readonly options: PublicKeyCredentialCreationOptionsJSON;
}> => {
  const options = await generateRegistrationOptions({
    rpName: passkeys.config.rpName,
    rpID: passkeys.config.rpId,
    userName: target.userName,
    userDisplayName: target.displayName,
    userID: isoBase64URL.toBuffer(target.userHandle),
    challenge: randomBytes(32),
    timeout: passkeys.config.timeoutMs,
    attestationType: 'none',
    excludeCredentials: target.exclude.map((e) => ({
      id: e.id,
      transports: e.transports as AuthenticatorTransportFuture[],
    })),
    // Discoverable preferred (passwordless logins need it; a security key as second factor does
    // not), user verification preferred (inherence when it happens).
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
  });
  const { ceremonyId } = passkeys.ceremonies.issue({
    kind: 'registration',
    challenge: options.challenge,
    sessionId: caller.sessionId,
    browser: null,
    registration: {
      actor: caller.actor,
      principalId: target.principalId,
      userHandle: target.userHandle,
    },
  });
  return { ceremonyId, options };
};

/** A new user handle: 32 random bytes (L3 14.6.1 recommends 64 random bytes at most, no PII). */
export const newUserHandle = (): string => randomBytes(32).toString('base64url');

export type VerifiedPasskey = {
  readonly userHandle: string;
  readonly webauthnId: string;
  readonly publicKey: string;
  readonly algorithm: number;
  readonly aaguid: string;
  readonly transports: string[];
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  readonly discoverable: boolean | null;
  readonly counter: number;
};

const ceremonyInvalid = () =>
  new AppError('PASSKEY_CEREMONY_INVALID', 'start the ceremony again', { field: 'ceremonyId' });

const clip = (s: string): string => (s.length > 200 ? `${s.slice(0, 199)}…` : s);

/**
 * The authenticator's answer to a registration ceremony, verified (L3 7.1: type, challenge,
 * origin, RP ID hash, user presence, algorithm, attestation `none` or one the library checks):
 * the ceremony must be this caller's (same actor, same session, same principal) and is used up
 * whatever the answer. Refused with PASSKEY_CEREMONY_INVALID or PASSKEY_REGISTRATION_INVALID.
 */
export const verifyRegistration = async (
  passkeys: Passkeys,
  input: {
    readonly ceremonyId: string;
    readonly principalId: string;
    readonly actor: string;
    readonly sessionId: string | null;
    readonly response: RegistrationResponseJSON;
  },
): Promise<VerifiedPasskey> => {
  const c = passkeys.ceremonies.take(input.ceremonyId);
  const r = c?.registration;
  if (
    c === undefined ||
    r === undefined ||
    c.kind !== 'registration' ||
    r.actor !== input.actor ||
    r.principalId !== input.principalId ||
    c.sessionId !== input.sessionId
  )
    throw ceremonyInvalid();
  let info: Awaited<ReturnType<typeof verifyRegistrationResponse>>['registrationInfo'];
  try {
    const verified = await verifyRegistrationResponse({
      response: input.response,
      expectedChallenge: c.challenge,
      expectedOrigin: [...passkeys.config.origins],
      expectedRPID: passkeys.config.rpId,
      requireUserVerification: false,
      supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
    });
    info = verified.verified ? verified.registrationInfo : undefined;
  } catch (err) {
    throw new AppError(
      'PASSKEY_REGISTRATION_INVALID',
      clip(err instanceof Error ? err.message : 'does not verify'),
      { field: 'credential' },
    );
  }
  if (info === undefined)
    throw new AppError('PASSKEY_REGISTRATION_INVALID', 'the attestation does not verify', {
      field: 'credential',
    });
  const { credential } = info;
  const algorithm = decodeCredentialPublicKey(credential.publicKey).get(cose.COSEKEYS.alg);
  const rk = input.response.clientExtensionResults?.credProps?.rk;
  return {
    userHandle: r.userHandle,
    webauthnId: credential.id,
    publicKey: isoBase64URL.fromBuffer(credential.publicKey),
    algorithm: algorithm ?? 0,
    aaguid: info.aaguid,
    transports: (input.response.response.transports ?? []).slice(0, 8),
    backupEligible: info.credentialDeviceType === 'multiDevice',
    backedUp: info.credentialBackedUp,
    discoverable: typeof rk === 'boolean' ? rk : null,
    counter: credential.counter,
  };
};

export type RegisterPasskeyInput = {
  readonly credentialId: string;
  readonly principalId: string;
  readonly name: string;
  readonly verified: VerifiedPasskey;
  /** The deployment's AAGUID allow-list (AUTHLOG_WEBAUTHN_AAGUIDS); null: any authenticator. */
  readonly allowedAaguids: readonly string[] | null;
  readonly directoryId?: string | undefined;
  readonly validUntil?: string | undefined;
};

/** Records a verified passkey: the same guards as the options (checked again: rights may have
 * changed within the ceremony), the AAGUID allow-list, and a credential id registered nowhere
 * before (L3 7.1 step 26: else one account could take another's authenticator). */
export const registerPasskey = (
  input: RegisterPasskeyInput,
): Command<{ credentialId: string; aaguid: string }> => ({
  name: 'RegisterPasskey',
  decide(state, meta) {
    const { owner, authority } = credentialOwner(state, meta, input.principalId);
    requireElevation(meta);
    const directory = credentialDirectory(state, input.directoryId ?? PASSKEY_DIRECTORY, 'passkey');
    const name = text('name', input.name, 100);
    const v = input.verified;
    if (input.allowedAaguids !== null && !input.allowedAaguids.includes(v.aaguid))
      throw new AppError(
        'PASSKEY_AUTHENTICATOR_NOT_ALLOWED',
        `authenticator ${v.aaguid} is not on the allow-list`,
        { field: 'credential' },
      );
    if (webauthnIdRegistered(state, v.webauthnId))
      throw new AppError('PASSKEY_ALREADY_REGISTERED', 'this credential is already registered', {
        field: 'credential',
      });
    if (unrevokedPasskeyCount(state, owner.id) >= MAX_PASSKEYS_PER_PRINCIPAL)
      throw invalid('principalId', `at most ${MAX_PASSKEYS_PER_PRINCIPAL} passkeys`);
    return {
      events: [
        {
          type: 'PasskeyRegistered',
          data: {
            credentialId: input.credentialId,
            principalId: owner.id,
            directoryId: directory.id,
            name,
            ...v,
            validUntil: parseValidUntil(input.validUntil, meta.now),
          },
        },
      ],
      result: { credentialId: input.credentialId, aaguid: v.aaguid },
      authority,
    };
  },
});

export type PasskeyView = {
  readonly credentialId: string;
  readonly name: string;
  readonly directoryId: string;
  readonly aaguid: string;
  readonly algorithm: number;
  readonly transports: string[];
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  readonly discoverable: boolean | null;
  readonly counter: number;
  readonly createdAt: string;
  readonly validUntil: string | null;
  readonly revoked: boolean;
};

/** A principal's passkeys: public facts only (no key). */
export const listPasskeys = (read: Reader, principalId: string): PasskeyView[] =>
  passkeyRecordsOf(read, principalId).map((r) => ({
    credentialId: r.id,
    name: r.name,
    directoryId: r.directoryId,
    aaguid: r.aaguid,
    algorithm: r.algorithm,
    transports: r.transports,
    backupEligible: r.backupEligible,
    backedUp: r.backedUp,
    discoverable: r.discoverable,
    counter: r.counter,
    createdAt: r.createdAt,
    validUntil: r.validUntil,
    revoked: r.revoked,
  }));

/** The principal a passwordless assertion names by its credential id, or undefined. */
export const principalOfAssertion = (
  read: Reader,
  response: AuthenticationResponseJSON,
): string | undefined =>
  isWebAuthnId(response.id) ? passkeyByWebAuthnId(read, response.id)?.principalId : undefined;

// ---------------------------------------------------------------------------------------------
// The evidence provider

type Prepared =
  | { readonly failed: string }
  | {
      readonly credentialId: string;
      readonly counter: number;
      readonly userVerified: boolean;
    };

/** The ceremony an assertion answers, if it may be used here: the session that asked for it (a
 * step of that session), or none (a login, then by the same browser when one asked). */
const ceremonyFor = (
  passkeys: Passkeys,
  presented: { readonly ceremonyId: string; readonly browser?: string | undefined },
  sessionId: string | undefined,
): Ceremony | undefined => {
  const c = passkeys.ceremonies.take(presented.ceremonyId);
  if (c === undefined || c.kind === 'registration') return undefined;
  if (c.kind === 'session' ? c.sessionId !== sessionId : sessionId !== undefined) return undefined;
  if (
    c.browser !== null &&
    (presented.browser === undefined || !sameHash(c.browser, sha256(presented.browser)))
  )
    return undefined;
  return c;
};

/**
 * `ownership` (and `inherence` with user verification) from an assertion of one of the
 * principal's live passkeys in a directory the login may use (L3 7.2: type, challenge, origin,
 * RP ID hash, user presence, user verification when the ceremony required it, the user handle,
 * the signature; the counter in `decide`). Nothing presented: `none`; anything else wrong: a
 * failed attempt (`passkey:<why>`), recorded and counted towards lockout.
 */
export const passkeyProvider = (
  passkeys: Passkeys | undefined,
): EvidenceProvider<Prepared | undefined> => ({
  method: 'webauthn',
  async prepare(context) {
    const presented = context.presented.passkey;
    if (presented === undefined) return undefined;
    if (passkeys === undefined) return { failed: 'passkey:off' };
    const c = ceremonyFor(passkeys, presented, context.sessionId);
    if (c === undefined) return { failed: 'passkey:challenge' };
    const { response } = presented;
    const record = isWebAuthnId(response.id)
      ? passkeyByWebAuthnId(context.state, response.id)
      : undefined;
    if (
      record === undefined ||
      record.principalId !== context.principalId ||
      !isLive(record, context.now) ||
      !directoryAllowed(context, record.directoryId)
    )
      return { failed: 'passkey:unknown' };
    // L3 7.2 step 6: the user handle, when the authenticator returns one, is the credential's.
    const handle = response.response.userHandle;
    if (handle !== undefined && handle !== null && handle !== record.userHandle)
      return { failed: 'passkey:user-handle' };
    try {
      const { verified, authenticationInfo } = await verifyAuthenticationResponse({
        response,
        expectedChallenge: c.challenge,
        expectedOrigin: [...passkeys.config.origins],
        expectedRPID: passkeys.config.rpId,
        // The counter is checked in decide, against the register, after the signature.
        credential: {
          id: record.webauthnId,
          publicKey: isoBase64URL.toBuffer(record.publicKey),
          counter: 0,
          transports: transportsOf(record),
        },
        requireUserVerification: c.kind === 'login',
      });
      if (!verified) return { failed: 'passkey:signature' };
      return {
        credentialId: record.id,
        counter: authenticationInfo.newCounter,
        userVerified: authenticationInfo.userVerified,
      };
    } catch {
      // Origin, RP ID, challenge, flags, or a body the library cannot read: the library says
      // which in its message, which stays out of the answer and the record alike.
      return { failed: 'passkey:invalid' };
    }
  },
  decide(context, prepared) {
    if (context.presented.passkey === undefined || prepared === undefined) return 'none';
    if ('failed' in prepared) return prepared;
    const record = getPasskeyRecord(context.state, prepared.credentialId);
    // Revoked (here or at another site, once replicated) while the signature was checked.
    if (
      record === undefined ||
      record.principalId !== context.principalId ||
      !isLive(record, context.now) ||
      !directoryAllowed(context, record.directoryId)
    )
      return { failed: 'passkey:revoked' };
    const { counter } = prepared;
    if ((counter > 0 || record.counter > 0) && counter <= record.counter)
      return { failed: 'passkey:counter' };
    const { evidences, expiresAt } = evidenceOf(
      context.state,
      record.directoryId,
      prepared.userVerified ? ['ownership', 'inherence'] : ['ownership'],
      context.now,
    );
    const sessionId = context.sessionId;
    return {
      evidences,
      method: 'webauthn',
      credentialId: record.id,
      expiresAt,
      events: [
        {
          type: 'PasskeyUsed',
          data: {
            credentialId: record.id,
            counter,
            ...(sessionId !== undefined ? { sessionId } : {}),
          },
        },
      ],
    };
  },
});
