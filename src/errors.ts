// One error catalogue: stable UPPER_SNAKE codes with their HTTP status and title. Domain code
// throws AppError with a code; the HTTP edge and the CLI map it in one place each.

export const errorCatalogue = {
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid' },
  BODY_NOT_UTF8: { status: 400, title: 'The request body is not valid UTF-8' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication is required' },
  FORBIDDEN: { status: 403, title: 'Not allowed' },
  CROSS_SITE_REQUEST: { status: 403, title: 'Cross-site request refused' },
  ORIGIN_NOT_ALLOWED: { status: 403, title: 'The origin of the request is not allowed' },
  CSRF_TOKEN_INVALID: { status: 403, title: 'The CSRF token is missing or does not match' },
  AUTHENTICATION_FAILED: { status: 401, title: 'The identity or the credentials are not valid' },
  ELEVATION_REQUIRED: { status: 403, title: 'This operation needs an elevated session' },
  EVIDENCE_REQUIRED: {
    status: 403,
    title: 'The session lacks evidence its policy requires; add it first',
  },
  NOT_FOUND: { status: 404, title: 'No such resource' },
  PRINCIPAL_NOT_FOUND: { status: 404, title: 'No such principal' },
  IDENTITY_NOT_FOUND: { status: 404, title: 'No such identity' },
  DIRECTORY_NOT_FOUND: { status: 404, title: 'No such identity directory' },
  ROLE_NOT_FOUND: { status: 404, title: 'No such role' },
  CREDENTIAL_NOT_FOUND: { status: 404, title: 'No such credential' },
  CREDENTIAL_DIRECTORY_NOT_FOUND: { status: 404, title: 'No such credential directory' },
  SESSION_NOT_FOUND: { status: 404, title: 'No such session' },
  OTP_CODE_INVALID: { status: 400, title: 'The one-time code is not valid' },
  TOKEN_INVALID: { status: 400, title: 'The token is unknown, used or expired' },
  REGISTRATION_CLOSED: { status: 403, title: 'Registration is not open on this node' },
  MAIL_UNAVAILABLE: { status: 403, title: 'This node sends no mail: no outbox is configured' },
  OTP_ALREADY_CONFIRMED: { status: 409, title: 'The one-time password credential is confirmed' },
  CREDENTIAL_NOT_LIVE: { status: 409, title: 'The credential is revoked or expired' },
  ROLE_DIRECTORY_NOT_FOUND: { status: 404, title: 'No such role directory' },
  PRIVILEGE_NOT_FOUND: { status: 404, title: 'No such privilege' },
  RESOURCE_TYPE_NOT_FOUND: { status: 404, title: 'No such resource type' },
  ACTION_NOT_FOUND: { status: 404, title: 'The resource type has no such action' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  NOT_ACCEPTABLE: { status: 406, title: 'Not acceptable' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request took too long to arrive' },
  PRINCIPAL_DELETED: { status: 409, title: 'The principal is deleted' },
  PRINCIPAL_PROTECTED: { status: 409, title: 'This principal cannot be changed that way' },
  IDENTITY_NAME_TAKEN: { status: 409, title: 'The identity name is taken in this directory' },
  IDENTITY_REMOVED: { status: 409, title: 'The identity is already removed' },
  DIRECTORY_NAME_TAKEN: { status: 409, title: 'An identity directory has this name' },
  EMAIL_TAKEN: { status: 409, title: 'Another principal has this email address' },
  ROLE_NAME_TAKEN: { status: 409, title: 'The role name is taken in this role directory' },
  ROLE_DIRECTORY_NAME_TAKEN: { status: 409, title: 'A role directory has this name' },
  ROLE_CYCLE: { status: 409, title: 'That parent would make the role its own ancestor' },
  ROLE_DELETED: { status: 409, title: 'The role is deleted' },
  ROLE_PROTECTED: { status: 409, title: 'This built-in role cannot be changed that way' },
  EXTERNAL_ROLE_DIRECTORY: {
    status: 409,
    title: "This role directory's memberships come from an external directory's groups",
  },
  DIRECTORY_MANAGED: {
    status: 409,
    title: 'This password is kept by an external directory; change it there',
  },
  LAST_WAY_IN: {
    status: 409,
    title: 'This is the last way to log in to the account; add another one first',
  },
  ID_TAKEN: { status: 409, title: 'The id is already in use' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  URI_TOO_LONG: { status: 414, title: 'The request URI is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  INTERNAL: { status: 500, title: 'Internal error' },
  NODE_CONFLICT: { status: 503, title: 'Another process is writing as this node' },
  STORE_UNAVAILABLE: { status: 503, title: 'The event store is unavailable' },
  READ_MODEL_UNAVAILABLE: { status: 503, title: "The node's read model cannot be read" },
  STORE_FULL: { status: 507, title: "The node's disk is full; writes resume once space is freed" },
  NOT_READY: { status: 503, title: 'The node is starting' },
  DIRECTORY_UNAVAILABLE: {
    status: 503,
    title: 'No server of the external directory answered in time; try again later',
  },
  // Social and OpenID Connect logins (src/http/routes/oidc.ts): what went wrong, never a 500.
  LOGIN_FLOW_INVALID: {
    status: 400,
    title:
      'The login flow is unknown, expired, used, or was started in another browser: start again',
  },
  EXTERNAL_LOGIN_DENIED: { status: 401, title: 'The provider did not authenticate the user' },
  EXTERNAL_TOKEN_INVALID: { status: 401, title: "The provider's answer failed verification" },
  EXTERNAL_ACCOUNT_NOT_LINKED: {
    status: 403,
    title: 'This external account is linked to no principal: log in otherwise and link it',
  },
  EXTERNAL_ACCOUNT_TAKEN: {
    status: 409,
    title: 'This external account is linked to another principal',
  },
  EXTERNAL_PROVIDER_UNAVAILABLE: {
    status: 503,
    title: 'The external provider did not answer in time, or this node cannot reach it',
  },
  // Passkeys (src/authn/passkeys.ts); a failed passkey login is AUTHENTICATION_FAILED like any.
  PASSKEY_CEREMONY_INVALID: {
    status: 400,
    title:
      'The passkey ceremony is unknown, expired, used, or was started by another session or browser: start again',
  },
  PASSKEY_REGISTRATION_INVALID: {
    status: 400,
    title: "The authenticator's registration failed verification",
  },
  PASSKEY_AUTHENTICATOR_NOT_ALLOWED: {
    status: 403,
    title: "This authenticator model (AAGUID) is not on this deployment's allow-list",
  },
  PASSKEY_ALREADY_REGISTERED: {
    status: 409,
    title: 'This authenticator credential is already registered',
  },
  LOG_BROKEN: {
    status: 503,
    title: "The node's event log fails its integrity check: it takes no requests until repaired",
  },
  NOT_ENROLLED: {
    status: 503,
    title: 'This node is not enrolled in its cluster yet: its events would be refused',
  },
  FAMILY_NOT_ALLOWED: {
    status: 403,
    title: 'This node is not enrolled to originate events of that kind; use another site',
  },
  NODE_ALREADY_ENROLLED: { status: 409, title: 'A node with this id is already enrolled' },
  NODE_NOT_FOUND: { status: 404, title: 'No such node in the cluster' },
  KEY_NOT_ROTATABLE: {
    status: 409,
    title:
      "This node's key cannot be rotated online: it comes from the environment, or the new key is the one in use",
  },
  KEY_MISMATCH: {
    status: 503,
    title: "This node's key is not the one its cluster holds for it: its events would be refused",
  },
  NOT_YET_APPLIED: { status: 503, title: 'This node has not yet applied the write you refer to' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    /** Safe to show to the client: says what is wrong with the request, nothing internal. */
    readonly detail?: string,
    /** Machine-readable context (field names, ids); never secrets. */
    readonly extensions?: Readonly<Record<string, string | number | boolean | null>>,
  ) {
    super(detail ? `${code}: ${detail}` : code);
    this.status = errorCatalogue[code].status;
  }
}

export const invalid = (field: string, detail: string): AppError =>
  new AppError('VALIDATION_FAILED', `${field}: ${detail}`, { field });
