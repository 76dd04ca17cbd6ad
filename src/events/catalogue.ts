// The event catalogue: every event type authlog records, with one payload schema each.
// Past-tense names. Personal data (names, email, phone, login names) lives in a `pii`
// sub-object so it can later be crypto-shredded without touching the rest of the payload.
// Keys derived from personal data (normalized email, normalized identity name) are computed at
// the origin and carried in the event, so every node agrees on them whatever its Unicode tables.
import { type Static, type TSchema, Type } from '@sinclair/typebox';

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' });
const Text = (maxLength: number) => Type.String({ maxLength });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** Dotted lowercase names: `admin.console`, `authlog.replicate`, resource types like `invoice`. */
const PrivilegeName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[a-z][a-z0-9_-]*(\\.[a-z][a-z0-9_-]*)*$',
});
const ActionName = Type.String({ minLength: 1, maxLength: 50, pattern: '^[a-z][a-z0-9_-]*$' });
export const Effect = Type.Union([
  Type.Literal('grant'),
  Type.Literal('inherit'),
  Type.Literal('revoke'),
]);
/** Evidence factors gathered during authentication (DESIGN.md section 7). */
export const Evidence = Type.Union([
  Type.Literal('knowledge'),
  Type.Literal('ownership'),
  Type.Literal('location'),
  Type.Literal('trust'),
  Type.Literal('inherence'),
]);

/** What a role directory requiring phishing-resistant evidence asks of a session, beside its
 * evidences: a check counts it as held when the session holds evidence proven by one of
 * PHISHING_RESISTANT_METHODS (NIST SP 800-63B rev 4 3.2.5: authenticators whose output is bound
 * to the verifier's name; a password, an OTP or a gateway's word is not). */
export const PHISHING_RESISTANT = 'phishing-resistant';
export const PHISHING_RESISTANT_METHODS: readonly string[] = ['webauthn', 'certificate'];

/** Node ids: lowercase, digits and dashes (the envelope's `origin`). */
const NodeId = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
/** A raw Ed25519 public key, base64url (src/events/signature.ts). */
const PublicKey = Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' });
/** A seq as a decimal string (DESIGN.md section 2, money rule). */
const Seq = Type.String({ pattern: '^[1-9][0-9]{0,18}$' });
/** An event as it is stored and served: the evidence of an equivocation carries two. */
const RawEvent = Type.Object({
  id: Type.String({ maxLength: 100 }),
  type: Type.String({ maxLength: 100 }),
  data: Type.Record(Type.String(), Type.Unknown()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
});

/** Families of events: what enrollment lets a node originate (docs/replication-trust.md). */
export const EVENT_FAMILIES = [
  'principals',
  'directories',
  'identities',
  'credentials',
  'authentication',
  'authorization',
  'audit',
  'cluster',
] as const;
export type EventFamily = (typeof EVENT_FAMILIES)[number];
const Family = Type.Union(EVENT_FAMILIES.map((f) => Type.Literal(f)));

export const PrincipalKind = Type.Union([Type.Literal('person'), Type.Literal('service')]);

/** Kinds of credential directories (DESIGN.md section 7). */
export const CredentialKind = Type.Union([
  Type.Literal('password'),
  Type.Literal('otp'),
  Type.Literal('subnet'),
  Type.Literal('gateway'),
  Type.Literal('token'),
  Type.Literal('ldap'),
  Type.Literal('oidc'),
  Type.Literal('certificate'),
  Type.Literal('recovery'),
  Type.Literal('passkey'),
]);
/** How a credential was proven (src/authn/evidence.ts `Method`). `ldap`: a bind to the external
 * directory; `ldap-offline`: the node's cached verifier while every server was unreachable. */
export const EvidenceMethod = Type.Union([
  Type.Literal('password'),
  Type.Literal('totp'),
  Type.Literal('hotp'),
  Type.Literal('subnet'),
  Type.Literal('gateway'),
  Type.Literal('ldap'),
  Type.Literal('ldap-offline'),
  /** An account at an external OpenID Connect provider (or GitHub's OAuth 2), proven by the
   * provider's answer to this node's authorization request (src/directories/oidc.ts). */
  Type.Literal('oidc'),
  Type.Literal('certificate'),
  Type.Literal('recovery-code'),
  /** A WebAuthn assertion of a passkey or security key (src/authn/passkeys.ts). */
  Type.Literal('webauthn'),
]);

/** How a node reaches an external LDAP or Active Directory directory (src/directories/). Only what
 * every site shares: the service account's password, and optionally this site's own server URLs
 * and CA, are per node (AUTHLOG_LDAP_<ID>_*), never in an event. */
export const LdapSettings = Type.Object({
  flavor: Type.Union([Type.Literal('openldap'), Type.Literal('ad')]),
  /** Tried in order (failover); ldap:// with `startTls`, or ldaps://. */
  urls: Type.Array(Type.String({ maxLength: 500 }), { minItems: 1, maxItems: 8 }),
  startTls: Type.Boolean(),
  /** The CA (PEM) the servers' certificates must chain to; null: the system's CAs. */
  caPem: Nullable(Type.String({ maxLength: 20_000 })),
  connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 60_000 }),
  timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000 }),
  /** The service account searches run as; null: anonymous searches. */
  bindDn: Nullable(Type.String({ maxLength: 500 })),
  baseDn: Type.String({ minLength: 1, maxLength: 500 }),
  /** `{name}` is replaced by the RFC 4515-escaped login name. */
  userFilter: Type.String({ minLength: 3, maxLength: 500 }),
  /** Instead of a search, bind as this DN (`{name}` RFC 4514-escaped); null: search. */
  bindDnTemplate: Nullable(Type.String({ maxLength: 500 })),
  /** The entry's stable id: ids of provisioned principals derive from it. */
  idAttribute: Type.Union([Type.Literal('entryUUID'), Type.Literal('objectGUID')]),
  /** The attribute holding the login name (uid, sAMAccountName). */
  nameAttribute: Type.String({ minLength: 1, maxLength: 100 }),
  attributes: Type.Object({
    fullName: Nullable(Type.String({ maxLength: 100 })),
    briefName: Nullable(Type.String({ maxLength: 100 })),
    email: Nullable(Type.String({ maxLength: 100 })),
  }),
  /** Active Directory: `user@suffix` and `DOMAIN\\user` name the account `user`. */
  upnSuffixes: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 8 }),
  netbiosDomain: Nullable(Type.String({ maxLength: 15 })),
  /** Users seen for the first time through this identity directory are provisioned; null: none. */
  identityDirectoryId: Nullable(Id),
  /** Offline logins: how long a node may keep a verifier after a successful bind; 0: never. */
  offlineCacheSeconds: Type.Integer({ minimum: 0, maximum: 2_592_000 }),
});

const HttpsUrl = Type.String({ minLength: 8, maxLength: 500, pattern: '^https?://' });
/** How a node logs people in through an external OpenID Connect provider, Google (a preset of it)
 * or GitHub's OAuth 2 (no ID token: its user API). Only what every site shares: the client secret
 * is per node, from its environment (AUTHLOG_OIDC_<ID>_CLIENT_SECRET[_FILE]), never in an event;
 * each node picks its own callback among `redirectUris` (docs/social-login.md). */
export const OidcSettings = Type.Object({
  flavor: Type.Union([Type.Literal('oidc'), Type.Literal('google'), Type.Literal('github')]),
  /** oidc, google: the issuer (discovery, and the `iss` every ID token must carry); github: the
   * namespace of its numeric user ids (https://github.com). */
  issuer: HttpsUrl,
  clientId: Type.String({ minLength: 1, maxLength: 255 }),
  /** RFC 6749 3.3 scope tokens. */
  scopes: Type.Array(Type.String({ minLength: 1, maxLength: 100, pattern: '^[!#-\\[\\]-~]+$' }), {
    minItems: 1,
    maxItems: 16,
  }),
  /** Every node's callback URL as registered at the provider (exact match, RFC 9700 2.1). */
  redirectUris: Type.Array(HttpsUrl, { minItems: 1, maxItems: 16 }),
  /** github only: its endpoints (GitHub Enterprise Server, or a test's stand-in); else null. */
  endpoints: Nullable(Type.Object({ authorization: HttpsUrl, token: HttpsUrl, api: HttpsUrl })),
  /** The identity directory its logins go through (its ties to credential directories hold), and
   * where a first login registers the account's name. */
  identityDirectoryId: Id,
  /** A first login of an account linked to nobody registers a principal. */
  registerOnFirstLogin: Type.Boolean(),
  /** A first login links to the principal that holds, and verified here, the address the
   * provider says it verified. Never by an address the provider does not mark verified. */
  linkVerifiedEmail: Type.Boolean(),
  /** Each request to the provider gives up after this long. */
  timeoutMs: Type.Integer({ minimum: 500, maximum: 60_000 }),
});

/** An external role directory: LDAP groups whose names are the directory's role names. */
export const ExternalRoles = Type.Object({
  /** The LDAP credential directory whose connection is used. */
  credentialDirectoryId: Id,
  groupBaseDn: Type.String({ minLength: 1, maxLength: 500 }),
  /** Which entries are groups, e.g. (objectClass=groupOfNames). */
  groupFilter: Type.String({ minLength: 3, maxLength: 500 }),
  /** The group attribute naming its members' DNs. */
  memberAttribute: Type.String({ minLength: 1, maxLength: 100 }),
  /** The group attribute that is its role name (cn). */
  nameAttribute: Type.String({ minLength: 1, maxLength: 100 }),
  /** Nested groups: AD's LDAP_MATCHING_RULE_IN_CHAIN, a recursive search, or direct only. */
  nested: Type.Union([Type.Literal('in-chain'), Type.Literal('recursive'), Type.Literal('none')]),
  /** Memberships are read at login and again after this many seconds while a session lives. */
  refreshSeconds: Type.Integer({ minimum: 60, maximum: 86_400 }),
});
const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Base64Url = (maxLength: number) =>
  Type.String({ minLength: 1, maxLength, pattern: '^[A-Za-z0-9_-]+$' });
/** One evidence held by a session, with its own time and expiry (ISO 8601 UTC). */
export const SessionEvidence = Type.Object({
  evidence: Evidence,
  method: EvidenceMethod,
  credentialId: Id,
  at: Type.String({ maxLength: 30 }),
  expiresAt: Type.String({ maxLength: 30 }),
});

const PrincipalPii = Type.Object({
  briefName: Text(200),
  fullName: Text(400),
  email: Nullable(Text(320)),
  /** Normalized email: the unique-claim key. */
  emailKey: Nullable(Text(320)),
  phone: Nullable(Text(40)),
});

export const eventSchemas = {
  PrincipalRegistered: Type.Object({
    principalId: Id,
    kind: PrincipalKind,
    pii: PrincipalPii,
    /** Provisioned just in time from an external directory's entry: the id derives from the
     * entry's stable id, so sites provisioning it at once register one principal, not a
     * collision (src/directories/provision.ts). */
    source: Type.Optional(
      Type.Object({ directoryId: Id, entryId: Type.String({ maxLength: 64 }) }),
    ),
  }),
  PrincipalProfileChanged: Type.Object({
    principalId: Id,
    pii: Type.Partial(PrincipalPii),
  }),
  PrincipalDeactivated: Type.Object({ principalId: Id, reason: Text(500) }),
  PrincipalActivated: Type.Object({ principalId: Id }),
  PrincipalDeleted: Type.Object({ principalId: Id }),

  IdentityDirectoryDefined: Type.Object({
    directoryId: Id,
    name: Text(100),
    /** Normalized name (NFKC, case folded): what the directory is looked up by. */
    key: Text(100),
    /** The key's confusable skeleton (UTS #39; src/events/skeleton.ts): the unique-claim key
     * among directories. Since schema 2; older events are upcast. */
    skeleton: Text(1024),
    description: Text(1000),
    /** The credential directories its identities may use; absent or null: any. */
    credentialDirectoryIds: Type.Optional(Nullable(Type.Array(Id, { maxItems: 16 }))),
  }),
  IdentityDirectoryChanged: Type.Object({
    directoryId: Id,
    name: Type.Optional(Text(100)),
    key: Type.Optional(Text(100)),
    /** With `name` and `key`, whenever the name changes. */
    skeleton: Type.Optional(Text(1024)),
    description: Type.Optional(Text(1000)),
    credentialDirectoryIds: Type.Optional(Nullable(Type.Array(Id, { maxItems: 16 }))),
  }),

  IdentityAdded: Type.Object({
    identityId: Id,
    directoryId: Id,
    principalId: Id,
    pii: Type.Object({
      name: Text(256),
      /** Name after NFKC normalization and case folding: what logins look it up by. */
      key: Text(256),
      /** The key's confusable skeleton (UTS #39): unique within the directory, so no two live
       * names in it look alike. Since schema 2; older events are upcast. */
      skeleton: Text(1024),
    }),
  }),
  IdentityRemoved: Type.Object({ identityId: Id }),

  // Credentials (DESIGN.md section 7). Secrets never appear in events: an access token is
  // stored as the SHA-256 of its 256-bit random value (OWASP ASVS 2.10 / 3.5).
  AccessTokenIssued: Type.Object({
    credentialId: Id,
    principalId: Id,
    name: Text(100),
    secretHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    /** ISO 8601 UTC; a token always expires. */
    expiresAt: Type.String({ maxLength: 30 }),
    /** When non-empty, the token is accepted only from these CIDR ranges. */
    subnets: Type.Array(Type.String({ maxLength: 50 }), { maxItems: 16 }),
  }),
  CredentialRevoked: Type.Object({ credentialId: Id, reason: Text(200) }),
  // One-time passwords (RFC 4226 HOTP, RFC 6238 TOTP). The seed is sealed with AES-256-GCM under
  // a configured key (src/authn/seed-crypto.ts): every site verifies codes, so it cannot be hashed.
  OtpEnrolled: Type.Object({
    credentialId: Id,
    principalId: Id,
    /** Credential directory (the seeded `otp` one provides `ownership` evidence). */
    directoryId: Id,
    kind: Type.Union([Type.Literal('totp'), Type.Literal('hotp')]),
    name: Text(100),
    digits: Type.Union([Type.Literal(6), Type.Literal(8)]),
    algorithm: Type.Union([Type.Literal('sha1'), Type.Literal('sha256'), Type.Literal('sha512')]),
    /** TOTP time step in seconds; null for HOTP. */
    period: Nullable(Type.Integer({ minimum: 15, maximum: 300 })),
    /** HOTP: the first counter value the token will show; null for TOTP. */
    counter: Nullable(Type.Integer({ minimum: 0, maximum: 2 ** 48 })),
    seed: Type.Object({
      keyId: Type.String({ pattern: '^[a-z0-9-]{1,32}$' }),
      iv: Type.String({ maxLength: 24 }),
      ciphertext: Type.String({ maxLength: 200 }),
      tag: Type.String({ maxLength: 24 }),
    }),
    /** ISO 8601 UTC end of the credential's validity window, or null: until revoked. */
    validUntil: Nullable(Type.String({ maxLength: 30 })),
  }),
  /** A first valid code proved the principal holds the seed; before that it is no evidence. */
  OtpConfirmed: Type.Object({ credentialId: Id }),
  /** A TOTP time step or HOTP counter value was accepted: it is never accepted again. */
  OtpUsed: Type.Object({
    credentialId: Id,
    step: Type.Integer({ minimum: 0, maximum: 2 ** 48 }),
    /** The session the code was accepted for (absent: none, as a confirmation or a Basic
     * request). Of two sites accepting one step while cut off, the later use's session ends
     * (projections/single-use.ts). */
    sessionId: Type.Optional(Id),
  }),
  /** A passkey's assertion was accepted with this signature counter (W3C WebAuthn L3 6.1.1): the
   * highest counter seen is a max register; two uses with one non-zero counter are a clone. */
  PasskeyUsed: Type.Object({
    credentialId: Id,
    counter: Type.Integer({ minimum: 0, maximum: 4_294_967_295 }),
    /** The session the assertion started, added to or elevated. */
    sessionId: Type.Optional(Id),
  }),
  /** Recovery codes (look-up secrets, NIST SP 800-63B rev 4 section 3.1.2): a set shown once when
   * generated, stored only as salted argon2id hashes (src/authn/recovery-codes.ts). A principal's
   * live set is its latest generation (HLC); the older ones are dead. */
  RecoveryCodesGenerated: Type.Object({
    credentialId: Id,
    principalId: Id,
    directoryId: Id,
    hashes: Type.Array(
      Type.String({
        maxLength: 200,
        pattern:
          '^\\$argon2id\\$v=19\\$m=[0-9]{1,10},t=[0-9]{1,10},p=[0-9]{1,10}\\$[A-Za-z0-9+/]{11,}\\$[A-Za-z0-9+/]{22,}$',
      }),
      { minItems: 1, maxItems: 16 },
    ),
  }),
  /** One code of a set was accepted (by its position in the set): never accepted again. Of two
   * sites accepting it while cut off, the later use's session ends (projections/sessions.ts). */
  RecoveryCodeUsed: Type.Object({
    credentialId: Id,
    index: Type.Integer({ minimum: 0, maximum: 15 }),
    sessionId: Type.Optional(Id),
  }),
  /** Location evidence: the principal's requests from these IPv4/IPv6 ranges. */
  SubnetAllowed: Type.Object({
    credentialId: Id,
    principalId: Id,
    directoryId: Id,
    name: Text(100),
    cidrs: Type.Array(Type.String({ maxLength: 50 }), { minItems: 1, maxItems: 16 }),
    validUntil: Nullable(Type.String({ maxLength: 30 })),
  }),
  /** Trust evidence: a client certificate (mutual TLS, or forwarded by the trusted gateway) that
   * matches the rule and chains to the CA (src/authn/certificates.ts). Only public data: no key. */
  CertificateRegistered: Type.Object({
    credentialId: Id,
    principalId: Id,
    directoryId: Id,
    name: Text(100),
    match: Type.Union([
      Type.Object({ kind: Type.Literal('fingerprint'), sha256: Sha256Hex }),
      Type.Object({ kind: Type.Literal('subject'), subject: Type.String({ maxLength: 1024 }) }),
      /** `email:…`, `DNS:…` or `URI:…` (src/authn/certificates.ts). */
      Type.Object({ kind: Type.Literal('san'), san: Type.String({ maxLength: 1024 }) }),
    ]),
    /** SHA-256 of the CA certificate it must chain to; null: any of the node's client CAs. */
    issuerCaSha256: Nullable(Sha256Hex),
    validUntil: Nullable(Type.String({ maxLength: 30 })),
  }),
  /** A certificate (SHA-256 of its DER), whoever holds it, is never evidence again: a replicated
   * deny list, like a CRL entry but by fingerprint. A CA's fingerprint denies what it signed. */
  CertificateFingerprintRevoked: Type.Object({ sha256: Sha256Hex, reason: Text(200) }),
  /** Ownership evidence (and inherence when the authenticator verifies its user): a WebAuthn
   * credential, a passkey or a security key (src/authn/passkeys.ts). Public data only: the
   * credential's public key, never anything that signs. */
  PasskeyRegistered: Type.Object({
    credentialId: Id,
    principalId: Id,
    directoryId: Id,
    name: Text(100),
    /** The authenticator's credential id (W3C WebAuthn L3 5.1 `rawId`, at most 1023 bytes). */
    webauthnId: Base64Url(1364),
    /** The user handle the authenticator keeps with it (L3 5.4.3: random, no personal data). */
    userHandle: Base64Url(86),
    /** The credential public key, COSE_Key (RFC 9052 section 7). */
    publicKey: Base64Url(2048),
    /** COSE algorithm (RFC 9053): -7 ES256, -8 EdDSA, -257 RS256. */
    algorithm: Type.Integer({ minimum: -65536, maximum: 65535 }),
    aaguid: Type.String({
      pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
    }),
    transports: Type.Array(Type.String({ maxLength: 20, pattern: '^[a-z-]+$' }), { maxItems: 8 }),
    /** Backup eligibility and state (L3 6.1 BE, BS): a synced passkey when both are set. */
    backupEligible: Type.Boolean(),
    backedUp: Type.Boolean(),
    /** Client-side discoverable (credProps `rk`); null when the client did not say. */
    discoverable: Nullable(Type.Boolean()),
    /** The signature counter at registration (L3 6.1.1). */
    counter: Type.Integer({ minimum: 0, maximum: 4_294_967_295 }),
    validUntil: Nullable(Type.String({ maxLength: 30 })),
  }),

  // Authentication (DESIGN.md section 7). A credential directory is a kind of credential and the
  // evidences it provides, with how long that evidence counts in a session.
  CredentialDirectoryDefined: Type.Object({
    directoryId: Id,
    name: Text(100),
    key: Text(100),
    kind: CredentialKind,
    evidences: Type.Array(Evidence, { minItems: 1, maxItems: 5 }),
    /** How long evidence from this directory counts in a session, in seconds. */
    evidenceLifetimeSeconds: Type.Integer({ minimum: 60, maximum: 31_536_000 }),
    /** Kind `ldap`: how to reach the directory. */
    ldap: Type.Optional(LdapSettings),
    /** Kind `oidc`: the provider and the linking rules. */
    oidc: Type.Optional(OidcSettings),
  }),
  CredentialDirectoryChanged: Type.Object({
    directoryId: Id,
    name: Type.Optional(Text(100)),
    key: Type.Optional(Text(100)),
    evidences: Type.Optional(Type.Array(Evidence, { minItems: 1, maxItems: 5 })),
    evidenceLifetimeSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 31_536_000 })),
    /** Kind `ldap`: the whole new connection setting. */
    ldap: Type.Optional(LdapSettings),
    /** Kind `oidc`: the whole new setting. */
    oidc: Type.Optional(OidcSettings),
  }),
  /** A principal's account in an external LDAP directory, by the entry's stable id (entryUUID,
   * objectGUID): the directory checks its password at every login, none is stored. */
  DirectoryAccountLinked: Type.Object({
    credentialId: Id,
    principalId: Id,
    directoryId: Id,
    entryId: Type.String({ minLength: 1, maxLength: 64 }),
  }),
  /** A principal's account at an external OpenID Connect / OAuth 2 provider (issuer + subject;
   * GitHub: its numeric user id). Linked by a first login that registered the principal, by an
   * address the provider marks verified (where the directory allows it), or by the principal's
   * own link ceremony, never otherwise (src/authn/external-login.ts). No token is kept. */
  ExternalAccountLinked: Type.Object({
    credentialId: Id,
    principalId: Id,
    directoryId: Id,
    issuer: HttpsUrl,
    /** OIDC Core 2: at most 255 ASCII characters, unique within the issuer. */
    subject: Type.String({ minLength: 1, maxLength: 255 }),
    /** SHA-256 (hex) of issuer, NUL, subject: the unique-claim key within the directory. */
    accountKey: Sha256Hex,
    via: Type.Union([
      Type.Literal('registered'),
      Type.Literal('verified-email'),
      Type.Literal('ceremony'),
    ]),
    /** The provider's address or login name, for the principal's own listing. */
    pii: Type.Object({ label: Nullable(Text(320)) }),
  }),
  /** A password credential's hash (argon2id PHC string only; OWASP ASVS 2.4.1, 2.4.4). */
  PasswordSet: Type.Object({
    credentialId: Id,
    principalId: Id,
    directoryId: Id,
    hash: Type.String({
      maxLength: 400,
      // PHC string; the parameters in any order (the argon2 package writes m, p, t).
      pattern:
        '^\\$argon2id\\$v=19\\$[mtp]=[0-9]{1,10},[mtp]=[0-9]{1,10},[mtp]=[0-9]{1,10}\\$[A-Za-z0-9+/]{11,}\\$[A-Za-z0-9+/]{22,}$',
    }),
    /** True when only the parameters changed (rehash at login): not a password change. */
    rehash: Type.Boolean(),
    /** Validity window, ISO 8601 UTC; null: open. */
    validFrom: Nullable(Type.String({ maxLength: 30 })),
    validUntil: Nullable(Type.String({ maxLength: 30 })),
  }),

  // Self-service (registration, verification, reset). Tokens are 256 random bits mailed through
  // the outbox; events carry only their SHA-256 (OWASP ASVS 2.5.1, 2.5.2; NIST SP 800-63B 5.1.1.2).
  EmailVerificationIssued: Type.Object({
    principalId: Id,
    tokenHash: Sha256Hex,
    expiresAt: Type.String({ maxLength: 30 }),
    pii: Type.Object({ emailKey: Text(320) }),
  }),
  /** The principal controls the address (terminal for that principal and address). */
  EmailVerified: Type.Object({
    principalId: Id,
    tokenHash: Sha256Hex,
    pii: Type.Object({ emailKey: Text(320) }),
  }),
  PasswordResetIssued: Type.Object({
    principalId: Id,
    tokenHash: Sha256Hex,
    expiresAt: Type.String({ maxLength: 30 }),
  }),
  /** The token is used up; the PasswordSet and SessionEnded events of the reset come with it. */
  PasswordResetCompleted: Type.Object({ principalId: Id, tokenHash: Sha256Hex }),

  // Sessions. Token secrets only as SHA-256 of 256 random bits; the token rotates at every
  // evidence change and elevation (OWASP ASVS 3.2.1, 3.3; NIST SP 800-63B 7.1).
  SessionStarted: Type.Object({
    sessionId: Id,
    principalId: Id,
    /** How the client holds the token: a browser cookie or a bearer token of an application. */
    transport: Type.Union([Type.Literal('cookie'), Type.Literal('bearer')]),
    tokenHash: Sha256Hex,
    /** ISO 8601 UTC: the absolute timeout. */
    expiresAt: Type.String({ maxLength: 30 }),
    idleTimeoutSeconds: Type.Integer({ minimum: 60, maximum: 31_536_000 }),
    evidences: Type.Array(SessionEvidence, { minItems: 1, maxItems: 16 }),
    /** The identity directory of the login; its tie to credential directories holds for every
     * later step of the session. Absent in sessions recorded before it existed: any. */
    identityDirectoryId: Type.Optional(Id),
    /** Started by a trusted device while the principal was locked out (src/authn/lockout.ts):
     * does not reset the count of failures from elsewhere. */
    throughLockout: Type.Optional(Type.Literal(true)),
  }),
  SessionEvidenceAdded: Type.Object({
    sessionId: Id,
    tokenHash: Sha256Hex,
    evidences: Type.Array(SessionEvidence, { minItems: 1, maxItems: 16 }),
  }),
  SessionElevated: Type.Object({
    sessionId: Id,
    tokenHash: Sha256Hex,
    /** ISO 8601 UTC: the end of elevation, separate from the session's own expiry. */
    until: Type.String({ maxLength: 30 }),
    evidences: Type.Array(SessionEvidence, { minItems: 1, maxItems: 16 }),
  }),
  SessionTouched: Type.Object({ sessionId: Id, at: Type.String({ maxLength: 30 }) }),
  SessionEnded: Type.Object({
    sessionId: Id,
    reason: Type.Union([
      Type.Literal('logout'),
      Type.Literal('revoked'),
      Type.Literal('expired'),
      Type.Literal('password-changed'),
      Type.Literal('principal-disabled'),
    ]),
  }),

  // Attempts and lockout (OWASP ASVS 2.2.1; NIST SP 800-63B 5.2.2). No secrets; the identity a
  // client typed is personal data.
  AuthenticationFailed: Type.Object({
    /** Null when the identity names nobody. */
    principalId: Nullable(Id),
    /** What failed: `password`, `otp`, `unknown-identity`, `locked`, `inactive`, `no-evidence`, `elevation`. */
    reason: Text(50),
    /** Where: `login`, `evidence`, `elevate`, `basic`. */
    step: Text(20),
    pii: Type.Object({ identity: Text(256) }),
  }),
  /** A success that resets the failure count where no session records it (Basic per request). */
  AuthenticationSucceeded: Type.Object({ principalId: Id, step: Text(20) }),
  PrincipalLockedOut: Type.Object({
    principalId: Id,
    /** ISO 8601 UTC; the lockout ends by itself then, or earlier by an administrator. */
    until: Type.String({ maxLength: 30 }),
    failures: Type.Integer({ minimum: 0 }),
  }),
  PrincipalUnlocked: Type.Object({ principalId: Id }),

  /** What a principal's (or a role's members') sessions must hold, and what elevation asks. */
  AuthPolicySet: Type.Object({
    scope: Type.Union([Type.Literal('principal'), Type.Literal('role')]),
    subjectId: Id,
    /** Evidences a session must hold before anything but adding evidence is allowed. */
    require: Type.Array(Evidence, { maxItems: 5 }),
    /** Evidences an elevation must present (empty: the default, a password confirmation). */
    elevate: Type.Array(Evidence, { maxItems: 5 }),
  }),

  // Authorization (DESIGN.md section 8). Effects are restrictive registers: revoke over inherit
  // over grant among concurrent writes; memberships likewise (revoked over granted).
  PrivilegeDefined: Type.Object({ privilege: PrivilegeName, description: Text(1000) }),
  ResourceTypeDefined: Type.Object({
    resourceType: PrivilegeName,
    actions: Type.Array(ActionName, { minItems: 1, maxItems: 64 }),
  }),
  RoleDirectoryDefined: Type.Object({
    directoryId: Id,
    name: Text(100),
    key: Text(100),
    /** Evidences a session must hold for memberships of this directory's roles to count. */
    requiredEvidences: Type.Array(Evidence, { maxItems: 8 }),
    /** Memberships count only while the session holds evidence of a phishing-resistant method
     * (`PHISHING_RESISTANT_METHODS`: a passkey, a client certificate). */
    phishingResistant: Type.Optional(Type.Boolean()),
    /** Memberships of its roles come from an LDAP directory's groups, not from grants. */
    external: Type.Optional(ExternalRoles),
  }),
  RoleDirectoryChanged: Type.Object({
    directoryId: Id,
    requiredEvidences: Type.Array(Evidence, { maxItems: 8 }),
    phishingResistant: Type.Optional(Type.Boolean()),
  }),
  /** What an external role directory said a principal's groups are (their normalized names), read
   * at a login or a refresh: the latest observation (HLC) is the principal's memberships there. */
  ExternalRolesObserved: Type.Object({
    principalId: Id,
    directoryId: Id,
    groupKeys: Type.Array(Text(100), { maxItems: 256 }),
  }),
  RoleDefined: Type.Object({
    roleId: Id,
    directoryId: Id,
    name: Text(100),
    /** Normalized name: unique within the role directory. */
    key: Text(100),
    parentId: Nullable(Id),
  }),
  RoleChanged: Type.Object({
    roleId: Id,
    name: Type.Optional(Text(100)),
    key: Type.Optional(Text(100)),
    parentId: Type.Optional(Nullable(Id)),
  }),
  RoleDeleted: Type.Object({ roleId: Id }),
  RolePrivilegeSet: Type.Object({ roleId: Id, privilege: PrivilegeName, effect: Effect }),
  RoleModelPermissionSet: Type.Object({
    roleId: Id,
    resourceType: PrivilegeName,
    action: ActionName,
    effect: Effect,
  }),
  ObjectPermissionSet: Type.Object({
    roleId: Id,
    resourceType: PrivilegeName,
    action: ActionName,
    objectId: Text(200),
    effect: Effect,
  }),
  RoleMembershipGranted: Type.Object({ roleId: Id, principalId: Id }),
  RoleMembershipRevoked: Type.Object({ roleId: Id, principalId: Id }),

  // Accounting (DESIGN.md section 9). Reading the audit trail and being refused an
  // administrative operation are themselves recorded (OWASP ASVS 7.1.3, 7.2.2).
  AuditRead: Type.Object({
    /** The filters of the read, as sent; never the rows it returned. */
    filters: Type.Record(Type.String({ maxLength: 20 }), Type.String({ maxLength: 1000 }), {
      maxProperties: 16,
    }),
  }),
  AccessDenied: Type.Object({
    /** `METHOD /route/pattern` of the refused request. */
    operation: Text(200),
    /** The privilege (or `action on type`) the actor lacked, when known. */
    privilege: Nullable(Text(200)),
    /** Id the request named in its path, if any (the thing the actor tried to change). */
    targetId: Type.Optional(Id),
    /** Denials of this actor not recorded since the previous one (rate limit). */
    suppressed: Type.Integer({ minimum: 0 }),
  }),

  // Cluster membership (DESIGN.md section 2, docs/replication-trust.md): which nodes may
  // originate events, with which key, and of which families. An administrator enrolls and removes
  // nodes through any member; a node rotates its own key (its rotation is signed by the old key).
  NodeEnrolled: Type.Object({
    nodeId: NodeId,
    publicKey: PublicKey,
    families: Type.Array(Family, { minItems: 1, maxItems: 16, uniqueItems: true }),
  }),
  /** The node's events from `fromSeq` on are refused everywhere. */
  NodeRemoved: Type.Object({ nodeId: NodeId, fromSeq: Seq, reason: Text(500) }),
  /** The origin's events after this one are signed with `publicKey`. */
  NodeKeyRotated: Type.Object({ publicKey: PublicKey }),
  /** Two different validly signed events for one origin and seq: kept as evidence. Any node can
   * check both signatures itself, so no node can flag another on its word alone. */
  EquivocationDetected: Type.Object({
    origin: NodeId,
    seq: Seq,
    events: Type.Array(RawEvent, { minItems: 2, maxItems: 2 }),
  }),
  /** A peer served an event this node refused (bad signature, broken chain, removed origin, a
   * family its origin may not write). Names what the peer claimed, for the audit trail. */
  ReplicationRefused: Type.Object({
    peer: Text(500),
    origin: Text(100),
    seq: Text(40),
    eventId: Text(100),
    reason: Text(500),
  }),
} as const;

export type EventSchemas = typeof eventSchemas;
export type EventType = keyof EventSchemas;
export type EventPayload<T extends EventType> = Static<EventSchemas[T]>;

/** A domain event without its envelope: what a decide function produces. */
export type DomainEvent = {
  [T in EventType]: { readonly type: T; readonly data: EventPayload<T> };
}[EventType];
export type DomainEventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

export const eventTypes = Object.keys(eventSchemas) as EventType[];

/** The family each event type belongs to. A branch site enrolled for `authentication` and
 * `audit` can sign people in and record it, and nothing else; a node may always rotate its own
 * key (`NodeKeyRotated` is checked apart: only its origin's own key). */
export const familyOf: { readonly [T in EventType]: EventFamily } = {
  PrincipalRegistered: 'principals',
  PrincipalProfileChanged: 'principals',
  PrincipalDeactivated: 'principals',
  PrincipalActivated: 'principals',
  PrincipalDeleted: 'principals',
  EmailVerificationIssued: 'principals',
  EmailVerified: 'principals',
  IdentityDirectoryDefined: 'directories',
  IdentityDirectoryChanged: 'directories',
  CredentialDirectoryDefined: 'directories',
  CredentialDirectoryChanged: 'directories',
  RoleDirectoryDefined: 'directories',
  RoleDirectoryChanged: 'directories',
  AuthPolicySet: 'directories',
  IdentityAdded: 'identities',
  IdentityRemoved: 'identities',
  AccessTokenIssued: 'credentials',
  CredentialRevoked: 'credentials',
  OtpEnrolled: 'credentials',
  OtpConfirmed: 'credentials',
  RecoveryCodesGenerated: 'credentials',
  SubnetAllowed: 'credentials',
  CertificateRegistered: 'credentials',
  CertificateFingerprintRevoked: 'credentials',
  PasskeyRegistered: 'credentials',
  PasswordSet: 'credentials',
  DirectoryAccountLinked: 'credentials',
  ExternalAccountLinked: 'credentials',
  PasswordResetIssued: 'credentials',
  PasswordResetCompleted: 'credentials',
  OtpUsed: 'authentication',
  PasskeyUsed: 'authentication',
  RecoveryCodeUsed: 'authentication',
  SessionStarted: 'authentication',
  SessionEvidenceAdded: 'authentication',
  SessionElevated: 'authentication',
  SessionTouched: 'authentication',
  SessionEnded: 'authentication',
  AuthenticationFailed: 'authentication',
  AuthenticationSucceeded: 'authentication',
  PrincipalLockedOut: 'authentication',
  PrincipalUnlocked: 'authentication',
  ExternalRolesObserved: 'authentication',
  PrivilegeDefined: 'authorization',
  ResourceTypeDefined: 'authorization',
  RoleDefined: 'authorization',
  RoleChanged: 'authorization',
  RoleDeleted: 'authorization',
  RolePrivilegeSet: 'authorization',
  RoleModelPermissionSet: 'authorization',
  ObjectPermissionSet: 'authorization',
  RoleMembershipGranted: 'authorization',
  RoleMembershipRevoked: 'authorization',
  AuditRead: 'audit',
  AccessDenied: 'audit',
  ReplicationRefused: 'audit',
  NodeEnrolled: 'cluster',
  NodeRemoved: 'cluster',
  NodeKeyRotated: 'cluster',
  EquivocationDetected: 'cluster',
};

export const isEventType = (t: string): t is EventType => Object.hasOwn(eventSchemas, t);

/** Current payload schema version of every event type; bump it with an upcaster.
 * 2: identity and identity-directory names carry their confusable skeleton. */
export const CURRENT_SCHEMA = 2;
