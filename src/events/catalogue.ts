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

export const PrincipalKind = Type.Union([Type.Literal('person'), Type.Literal('service')]);

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
    /** Normalized name: the unique-claim key among directories. */
    key: Text(100),
    description: Text(1000),
  }),
  IdentityDirectoryChanged: Type.Object({
    directoryId: Id,
    name: Type.Optional(Text(100)),
    key: Type.Optional(Text(100)),
    description: Type.Optional(Text(1000)),
  }),

  IdentityAdded: Type.Object({
    identityId: Id,
    directoryId: Id,
    principalId: Id,
    pii: Type.Object({
      name: Text(256),
      /** Name after NFKC normalization and case folding: unique within the directory. */
      key: Text(256),
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
  }),
  RoleDirectoryChanged: Type.Object({
    directoryId: Id,
    requiredEvidences: Type.Array(Evidence, { maxItems: 8 }),
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

export const isEventType = (t: string): t is EventType => Object.hasOwn(eventSchemas, t);

/** Current payload schema version of every event type; bump it with an upcaster. */
export const CURRENT_SCHEMA = 1;
