// The settings of an `oidc` credential directory, checked and completed from its flavor's preset
// (docs/social-login.md). What is refused here would otherwise fail at a user's login:
//   - the provider over plain HTTP, except on the loopback interface (a development provider,
//     tests): its answers prove who logs in (RFC 9700 2.6 / 4.1: TLS for every endpoint);
//   - a redirect URI that is not this directory's callback, or carries a query or fragment
//     (RFC 9700 2.1 / 4.1.3: exact redirect URI matching; RFC 6749 3.1.2: no fragment);
//   - generic OIDC without the `openid` scope (no ID token, nothing proves the subject).
// No secret is part of the settings: the client secret is per node (src/directories/oidc-env.ts).
import { getDirectory, INTERNAL_DIRECTORY } from '../../projections/identities.ts';
import { AppError, invalid } from '../errors.ts';
import type { EventPayload } from '../events/catalogue.ts';
import type { Reader } from '../readmodel/projection.ts';

export type OidcSettings = NonNullable<EventPayload<'CredentialDirectoryDefined'>['oidc']>;
type Flavor = OidcSettings['flavor'];

/** What a client sends: the flavor's preset fills what it leaves out. */
export type OidcInput = Partial<Omit<OidcSettings, 'endpoints'>> & {
  readonly endpoints?: Partial<NonNullable<OidcSettings['endpoints']>> | null;
};

export const GOOGLE_ISSUER = 'https://accounts.google.com';
export const GITHUB_ISSUER = 'https://github.com';
export const GITHUB_ENDPOINTS = {
  authorization: 'https://github.com/login/oauth/authorize',
  token: 'https://github.com/login/oauth/access_token',
  api: 'https://api.github.com',
} as const;

const PRESETS: Readonly<Record<Flavor, { issuer?: string; scopes: readonly string[] }>> = {
  oidc: { scopes: ['openid', 'email', 'profile'] },
  google: { issuer: GOOGLE_ISSUER, scopes: ['openid', 'email', 'profile'] },
  // read:user for GET /user, user:email for GET /user/emails (and whether each is verified).
  github: { issuer: GITHUB_ISSUER, scopes: ['read:user', 'user:email'] },
};

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** An absolute https URL (http only on the loopback interface), without credentials or
 * fragment. */
export const providerUrl = (field: string, raw: unknown): URL => {
  if (typeof raw !== 'string' || raw.length > 500) throw invalid(field, 'must be a URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(field, 'must be an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname)))
    throw invalid(field, 'must be https (http only on the loopback interface)');
  if (url.username !== '' || url.password !== '' || url.hash !== '')
    throw invalid(field, 'must have no credentials and no fragment');
  return url;
};

/** Whether requests to `url` may go over plain HTTP (a loopback provider). */
export const isLoopbackHttp = (url: string): boolean => {
  const u = new URL(url);
  return u.protocol === 'http:' && LOOPBACK.has(u.hostname);
};

/** The path every redirect URI of directory `id` must end with (src/http/routes/oidc.ts). */
export const callbackPath = (directoryId: string): string =>
  `/v1/auth/oidc/${directoryId}/callback`;

const SCOPE = /^[!#-[\]-~]{1,100}$/;

export const oidcSettings = (
  state: Reader,
  directoryId: string,
  input: OidcInput,
): OidcSettings => {
  const flavor = input.flavor ?? 'oidc';
  if (!Object.hasOwn(PRESETS, flavor)) throw invalid('oidc.flavor', 'oidc, google or github');
  const preset = PRESETS[flavor];
  const issuerRaw = input.issuer ?? preset.issuer;
  if (issuerRaw === undefined) throw invalid('oidc.issuer', 'is required for flavor oidc');
  const issuer = providerUrl('oidc.issuer', issuerRaw).href.replace(/\/$/, '');
  // OIDC Discovery 4.3: the issuer in the metadata must equal the configured one exactly, so it is
  // kept as given (less a trailing slash that URL parsing adds to a bare origin).
  const issuerKept = issuerRaw.endsWith('/') && !issuer.endsWith('/') ? issuerRaw : issuer;
  if (typeof input.clientId !== 'string' || input.clientId.length === 0)
    throw invalid('oidc.clientId', 'is required');
  if (input.clientId.length > 255 || !/^[\x20-\x7e]+$/.test(input.clientId))
    throw invalid('oidc.clientId', 'at most 255 characters, no control characters');
  const scopes = [...new Set(input.scopes ?? preset.scopes)];
  if (scopes.length === 0 || scopes.length > 16 || !scopes.every((s) => SCOPE.test(s)))
    throw invalid('oidc.scopes', '1 to 16 scope tokens (RFC 6749 3.3)');
  if (flavor !== 'github' && !scopes.includes('openid'))
    throw invalid('oidc.scopes', 'must include openid (no ID token otherwise)');
  const redirectUris = input.redirectUris ?? [];
  if (redirectUris.length === 0 || redirectUris.length > 16)
    throw invalid('oidc.redirectUris', "name 1 to 16: every node's callback URL");
  for (const raw of redirectUris) {
    const u = providerUrl('oidc.redirectUris', raw);
    if (u.search !== '' || !u.pathname.endsWith(callbackPath(directoryId)))
      throw invalid(
        'oidc.redirectUris',
        `${JSON.stringify(raw).slice(0, 80)} must end with ${callbackPath(directoryId)}, without a query`,
      );
  }
  let endpoints: OidcSettings['endpoints'] = null;
  if (flavor === 'github') {
    const e = input.endpoints ?? {};
    endpoints = {
      authorization: providerUrl(
        'oidc.endpoints.authorization',
        e.authorization ?? GITHUB_ENDPOINTS.authorization,
      ).href,
      token: providerUrl('oidc.endpoints.token', e.token ?? GITHUB_ENDPOINTS.token).href,
      api: providerUrl('oidc.endpoints.api', e.api ?? GITHUB_ENDPOINTS.api).href.replace(/\/$/, ''),
    };
  } else if (input.endpoints != null)
    throw invalid('oidc.endpoints', 'only for flavor github (others are discovered)');
  const identityDirectoryId = input.identityDirectoryId ?? INTERNAL_DIRECTORY;
  if (getDirectory(state, identityDirectoryId) === undefined)
    throw new AppError('DIRECTORY_NOT_FOUND', `no identity directory ${identityDirectoryId}`, {
      field: 'oidc.identityDirectoryId',
    });
  const timeoutMs = input.timeoutMs ?? 10_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 500 || timeoutMs > 60_000)
    throw invalid('oidc.timeoutMs', '500 to 60000');
  return {
    flavor,
    issuer: issuerKept,
    clientId: input.clientId,
    scopes,
    redirectUris: [...redirectUris],
    endpoints,
    identityDirectoryId,
    registerOnFirstLogin: input.registerOnFirstLogin ?? false,
    linkVerifiedEmail: input.linkVerifiedEmail ?? false,
    timeoutMs,
  };
};
