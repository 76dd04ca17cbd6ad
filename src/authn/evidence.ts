// Evidence providers: how a login step turns what a client presented into evidence for a session
// (DESIGN.md section 7). Each credential kind (password, TOTP/HOTP, subnet, trusted gateway) is
// one provider; the session commands ask every provider in `providers.ts` and never know the
// kinds themselves, so adding a kind is adding a provider.
//
// A provider works in two steps because the writer queue is synchronous and argon2 is not:
// `prepare` runs outside the queue (slow, async: hashing), `decide` runs inside the command's
// decide function (serialized per node), re-checks against the read model and returns the events
// that record the use (for OTP, the used time step, so a code is accepted once: the decide of a
// second, parallel submission sees the first one's event).
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { Static } from '@sinclair/typebox';
import {
  type DomainEvent,
  type Evidence,
  type EvidenceMethod,
  PHISHING_RESISTANT,
  PHISHING_RESISTANT_METHODS,
} from '../events/catalogue.ts';
import type { Reader } from '../readmodel/projection.ts';
import type { DirectoryPort } from './directory-port.ts';
import type { Argon2Params } from './passwords.ts';

export type EvidenceKind = Static<typeof Evidence>;

/** What a client presents of a passkey: the ceremony it answers and the authenticator's
 * assertion, as W3C WebAuthn L3 5.1 `AuthenticationResponseJSON` (not yet checked). */
export type PasskeyPresented = {
  readonly ceremonyId: string;
  readonly response: AuthenticationResponseJSON;
  readonly browser?: string | undefined;
};

/** How a credential was proven; recorded with each evidence in the session. */
export type Method = Static<typeof EvidenceMethod>;

/** What a login or add-evidence step presented. Secrets here never reach logs or events. */
export type Presented = {
  readonly password?: string;
  readonly otp?: string;
  /** A recovery code (src/authn/recovery-codes.ts): in place of the second factor, once. */
  readonly recoveryCode?: string;
  /** A client certificate (PEM, public): from the node's own mutual TLS handshake, or forwarded
   * by the trusted gateway (X-Client-Cert, believed only from AUTHLOG_GATEWAY_CIDRS). */
  readonly certificate?: { readonly pem: string; readonly via: 'mtls' | 'gateway' };
  /** Set only by the HTTP edge when the trusted gateway asserted this identity (Remote-User from
   * a peer in AUTHLOG_GATEWAY_CIDRS): POST /v1/auth/gateway-login (src/authn/gateway.ts). */
  readonly gateway?: true;
  /** A WebAuthn assertion (src/authn/passkeys.ts) answering a ceremony this node issued:
   * `browser` is the ceremony cookie's value when a browser started it. Public data only. */
  readonly passkey?: PasskeyPresented;
  /** Set only by the HTTP edge once an `oidc` directory's provider proved this account (the code
   * exchanged and its ID token or user API checked: src/directories/oidc.ts); no request body can
   * carry it (src/authn/external-login.ts). */
  readonly external?: { readonly directoryId: string; readonly accountKey: string };
};

export type EvidenceContext = {
  readonly state: Reader;
  readonly principalId: string;
  readonly presented: Presented;
  /** The client's address as the HTTP edge resolved it (trusted proxies applied). */
  readonly ip: string | undefined;
  readonly now: number;
  /** When set, only credentials in these credential directories count: the identity directory
   * the client logged in through is tied to them (DESIGN.md section 7). Undefined: any. */
  readonly credentialDirectories?: ReadonlySet<string> | undefined;
  /** The session this step starts or adds to, when there is one (not for Basic, which has none):
   * single-use secrets name it in their use event, so that of two sites accepting one secret
   * while cut off, the later use's session can be ended everywhere (docs/single-use.md). */
  readonly sessionId?: string | undefined;
};

/** What `prepare` gets besides the context: the parameters a rehash uses (`config.auth.argon2`),
 * and the node's external directories, when it has any (src/authn/directory-port.ts). */
export type PrepareTools = {
  readonly argon2: Argon2Params;
  readonly directories?: DirectoryPort | undefined;
};
export type PrepareContext = EvidenceContext & PrepareTools;

/** What a session's evidences count as in authorization checks: their kinds, and
 * PHISHING_RESISTANT when one was proven by a phishing-resistant method (a role directory may
 * require it, e.g. for administrators). */
export const heldEvidences = (
  evidences: readonly { readonly evidence: string; readonly method: string }[],
): Set<string> => {
  const held = new Set(evidences.map((e) => e.evidence));
  if (evidences.some((e) => PHISHING_RESISTANT_METHODS.includes(e.method)))
    held.add(PHISHING_RESISTANT);
  return held;
};

/** Whether a credential of `directoryId` may count in this context. */
export const directoryAllowed = (context: EvidenceContext, directoryId: string): boolean =>
  context.credentialDirectories === undefined || context.credentialDirectories.has(directoryId);

/** What a provider vouches for: one credential's use, and the evidence it gives — one factor, or
 * two for a multi-factor authenticator (a passkey that verified its user gives `ownership` and
 * `inherence`: NIST SP 800-63B rev 4 section 5.1.9, W3C WebAuthn Level 3 section 6.1 UV flag).
 * One proof per credential, so its use events are recorded once whatever it proves. */
export type Proof = {
  /** Never empty; each counts in the session as its own evidence, with this expiry. */
  readonly evidences: readonly EvidenceKind[];
  readonly method: Method;
  readonly credentialId: string;
  /** When this evidence stops counting (ms since epoch), from the credential directory. */
  readonly expiresAt: number;
  /** Events that record the use (an OTP step consumed, a password rehashed). */
  readonly events: readonly DomainEvent[];
};

/**
 * `none`: nothing of this kind was presented or applies (no password sent, no subnet credential
 * matches); `failed`: something was presented and is wrong (counts towards lockout), recorded as
 * the provider's method, or as `failed` says (`ldap:disabled`).
 */
export type Outcome = Proof | 'none' | 'failed' | { readonly failed: string };

export type EvidenceProvider<P = unknown> = {
  readonly method: Method;
  /** Slow work outside the writer queue; its result is handed to `decide`. */
  prepare?(context: PrepareContext): Promise<P>;
  /** Inside the command's decide: the final, serialized check. Pure: no clock, no I/O. */
  decide(context: EvidenceContext, prepared: P | undefined): Outcome;
};
