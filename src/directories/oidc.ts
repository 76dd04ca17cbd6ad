// The relying party of `oidc` credential directories, through openid-client (no JOSE, HTTP or
// OAuth protocol code here): what proves that the person at the browser holds an account at the
// provider. Two steps, both on the node that the provider sends the browser back to (each node
// has its own redirect URI, src/directories/oidc-env.ts):
//
//   start   a fresh `state`, `nonce` and PKCE verifier (S256) kept in this node's memory under
//           the SHA-256 of a random flow token; the token goes to the browser in a cookie (the
//           route's), so the callback is bound to the browser that started it: login CSRF and
//           code injection (RFC 9700 2.1 and 4.5, 4.7; OIDC Core 3.1.2.1 and 15.5.2). Flows are
//           single-use and die after ten minutes.
//   finish  the flow found by the cookie's token and taken (once); `state` compared; the code
//           exchanged with the verifier; the ID token checked by openid-client: signature against
//           the provider's JWKS (cached, fetched again when a token names a key it lacks: a
//           rotation), `iss`, `aud`, `azp`, `exp`/`iat`, `nonce` (OIDC Core 3.1.3.7). By default
//           openid-client trusts TLS for an ID token from the token endpoint (Core 3.1.3.7 item
//           6 allows it); authlog verifies the signature anyway (enableNonRepudiationChecks), so a
//           compromised or misrouted token endpoint is not enough.
//
// GitHub (flavor `github`) is OAuth 2 without an ID token: the code exchange (with PKCE), then
// GET /user (its numeric id is the subject: logins can be renamed, ids cannot) and
// GET /user/emails (an address counts as verified only when GitHub says `verified: true`).
//
// Failures are typed (src/errors.ts): the provider refused (EXTERNAL_LOGIN_DENIED, with its OAuth
// error code), its answer failed a check (EXTERNAL_TOKEN_INVALID, with which), it did not answer
// (EXTERNAL_PROVIDER_UNAVAILABLE), the flow is not this browser's (LOGIN_FLOW_INVALID).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as client from 'openid-client';
import { type OidcSettings, oidcSettingsOf } from '../../projections/external-accounts.ts';
import { isLoopbackHttp } from '../authn/oidc-settings.ts';
import { AppError } from '../errors.ts';
import { canonicalJson } from '../events/signature.ts';
import type { Reader } from '../readmodel/projection.ts';
import type { Env } from './node-settings.ts';
import { oidcNodeSettings } from './oidc-env.ts';

/** What the provider proved: its account, and what it says about it. */
export type ProvenAccount = {
  readonly directoryId: string;
  readonly issuer: string;
  /** `sub` (OIDC Core 2: at most 255 ASCII characters); GitHub: the numeric user id. */
  readonly subject: string;
  readonly email: string | undefined;
  /** Only when the provider says so explicitly (`email_verified: true`; GitHub `verified`). */
  readonly emailVerified: boolean;
  readonly name: string | undefined;
  /** preferred_username; GitHub: the login. */
  readonly username: string | undefined;
};

/** Why a flow was started: a login, or a link ceremony from a principal's own session. */
export type FlowPurpose =
  | { readonly kind: 'login'; readonly returnTo: string | undefined }
  | { readonly kind: 'link'; readonly principalId: string; readonly sessionId: string };

type Pending = {
  readonly directoryId: string;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly redirectUri: string;
  readonly purpose: FlowPurpose;
  readonly expiresAt: number;
};

export type OidcServiceOptions = {
  /** This node's environment (AUTHLOG_OIDC_<ID>_*). */
  readonly env: Env;
  /** Replaces fetch for every request to providers (tests put a stand-in in the path). */
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly log?: { warn(o: object, msg: string): void };
};

/** How long a started flow may wait for its callback. */
export const FLOW_TTL_MS = 10 * 60_000;
/** Pending flows this node keeps at most (the start route is throttled like a login). */
const MAX_PENDING = 10_000;
/** Provider metadata is discovered again after this long. */
const DISCOVERY_TTL_MS = 24 * 3600_000;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const OAUTH_ERROR = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
const errorCode = (raw: unknown): string =>
  typeof raw === 'string' && OAUTH_ERROR.test(raw) ? raw : 'unknown';

const CONNECTION_CODES = new Set([
  'OAUTH_TIMEOUT',
  'OAUTH_ABORT',
  'OAUTH_RESPONSE_IS_NOT_CONFORM',
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_HTTP_REQUEST_FORBIDDEN',
  'OAUTH_MISSING_SERVER_METADATA',
  'OAUTH_INVALID_SERVER_METADATA',
]);

/** An openid-client failure as authlog's error; programming errors are thrown on. */
export const providerError = (directoryId: string, err: unknown, during: string): AppError => {
  if (err instanceof AppError) return err;
  if (err instanceof client.AuthorizationResponseError || err instanceof client.ResponseBodyError)
    return new AppError(
      'EXTERNAL_LOGIN_DENIED',
      `provider of ${directoryId} answered ${errorCode(err.error)} ${during}`,
      { error: errorCode(err.error) },
    );
  const code = err instanceof client.ClientError ? err.code : undefined;
  const network =
    (err instanceof TypeError && !String((err as { code?: unknown }).code).startsWith('ERR_')) ||
    (code !== undefined && CONNECTION_CODES.has(code)) ||
    (err instanceof client.ClientError && code === undefined);
  if (network)
    return new AppError(
      'EXTERNAL_PROVIDER_UNAVAILABLE',
      `provider of ${directoryId} did not answer usably ${during}`,
      { reason: code ?? 'network' },
    );
  if (code !== undefined)
    return new AppError(
      'EXTERNAL_TOKEN_INVALID',
      `the answer of ${directoryId}'s provider failed a check ${during}: ${code}`,
      { reason: code },
    );
  throw err;
};

/** GitHub answers a refused code with HTTP 200 and an `error` member (docs.github.com, "Troubleshooting
 * OAuth app access token request errors"): answered as the 400 RFC 6749 5.2 describes, so it reads
 * as the provider's refusal (EXTERNAL_LOGIN_DENIED with its code), not as a malformed answer. */
const githubTokenErrors =
  (base: typeof fetch, tokenUrl: string): typeof fetch =>
  async (input, init) => {
    const res = await base(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if (url !== tokenUrl || res.status !== 200) return res;
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const refused =
      typeof body === 'object' && body !== null && 'error' in body && !('access_token' in body);
    return new Response(text, {
      status: refused ? 400 : 200,
      headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
    });
  };

type Client = {
  readonly fingerprint: string;
  readonly at: number;
  readonly config: Promise<client.Configuration>;
};

export class OidcService {
  readonly #options: OidcServiceOptions;
  readonly #clients = new Map<string, Client>();
  readonly #pending = new Map<string, Pending>();

  constructor(options: OidcServiceOptions) {
    this.#options = options;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  /** The directory's settings, or CREDENTIAL_DIRECTORY_NOT_FOUND. */
  settings(read: Reader, directoryId: string): OidcSettings {
    const settings = oidcSettingsOf(read, directoryId);
    if (settings === undefined)
      throw new AppError('CREDENTIAL_DIRECTORY_NOT_FOUND', `no oidc directory ${directoryId}`);
    return settings;
  }

  /** The openid-client configuration for the directory, made again when its settings or this
   * node's secret change; discovery (OIDC Discovery 1.0; issuer compared exactly, 4.3) once a day.
   * The JWKS cache lives in the configuration, so it survives between logins. */
  async #config(directoryId: string, settings: OidcSettings): Promise<client.Configuration> {
    const node = oidcNodeSettings(directoryId, settings, this.#options.env);
    const fingerprint = canonicalJson({ settings, secret: sha256(node.clientSecret ?? '') });
    const have = this.#clients.get(directoryId);
    if (have?.fingerprint === fingerprint && this.#now() - have.at < DISCOVERY_TTL_MS)
      return have.config;
    const config = this.#configure(settings, node.clientSecret);
    const made: Client = { fingerprint, at: this.#now(), config };
    this.#clients.set(directoryId, made);
    // A provider that did not answer is asked again at the next login.
    config.catch(() => {
      if (this.#clients.get(directoryId) === made) this.#clients.delete(directoryId);
    });
    return config;
  }

  async #configure(
    settings: OidcSettings,
    secret: string | undefined,
  ): Promise<client.Configuration> {
    const insecure = isLoopbackHttp(settings.issuer);
    const timeout = Math.ceil(settings.timeoutMs / 1000);
    let config: client.Configuration;
    if (settings.flavor === 'github') {
      const e = settings.endpoints;
      if (e === null) throw new AppError('EXTERNAL_PROVIDER_UNAVAILABLE', 'no GitHub endpoints');
      config = new client.Configuration(
        {
          issuer: settings.issuer,
          authorization_endpoint: e.authorization,
          token_endpoint: e.token,
        },
        settings.clientId,
        undefined,
        secret === undefined ? client.None() : client.ClientSecretPost(secret),
      );
      if (isLoopbackHttp(e.token) || isLoopbackHttp(e.api)) client.allowInsecureRequests(config);
    } else {
      config = await client.discovery(
        new URL(settings.issuer),
        settings.clientId,
        undefined,
        secret === undefined ? client.None() : client.ClientSecretBasic(secret),
        {
          timeout,
          ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
          ...(this.#options.fetch ? { [client.customFetch]: this.#options.fetch } : {}),
        },
      );
      // Verify the ID token's signature too, not only TLS to the token endpoint.
      client.enableNonRepudiationChecks(config);
    }
    config.timeout = timeout;
    const base = this.#options.fetch ?? fetch;
    if (settings.flavor === 'github' && settings.endpoints !== null)
      config[client.customFetch] = githubTokenErrors(base, settings.endpoints.token);
    else if (this.#options.fetch) config[client.customFetch] = this.#options.fetch;
    return config;
  }

  /** Starts a flow: the provider's authorization URL, and the token the browser must bring back. */
  async start(
    read: Reader,
    directoryId: string,
    purpose: FlowPurpose,
  ): Promise<{ url: string; flowToken: string; expiresAt: number }> {
    const settings = this.settings(read, directoryId);
    const node = oidcNodeSettings(directoryId, settings, this.#options.env);
    let config: client.Configuration;
    try {
      config = await this.#config(directoryId, settings);
    } catch (err) {
      throw providerError(directoryId, err, 'at discovery');
    }
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const parameters: Record<string, string> = {
      redirect_uri: node.redirectUri,
      scope: settings.scopes.join(' '),
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...(settings.flavor === 'github' ? {} : { nonce }),
      // GitHub: never offer to create an account in the middle of a login.
      ...(settings.flavor === 'github' ? { allow_signup: 'false' } : {}),
    };
    const url = client.buildAuthorizationUrl(config, parameters).href;
    const flowToken = randomBytes(32).toString('base64url');
    const expiresAt = this.#now() + FLOW_TTL_MS;
    this.#sweep();
    this.#pending.set(sha256(flowToken), {
      directoryId,
      state,
      nonce,
      verifier,
      redirectUri: node.redirectUri,
      purpose,
      expiresAt,
    });
    return { url, flowToken, expiresAt };
  }

  #sweep(): void {
    const now = this.#now();
    for (const [k, p] of this.#pending) if (p.expiresAt <= now) this.#pending.delete(k);
    // Beyond the cap the oldest flows go first (a Map iterates in insertion order).
    while (this.#pending.size >= MAX_PENDING) {
      const oldest = this.#pending.keys().next().value;
      if (oldest === undefined) break;
      this.#pending.delete(oldest);
    }
  }

  /** Takes the flow of this browser's token, once: LOGIN_FLOW_INVALID for an unknown, expired or
   * used token, another directory's flow, or a `state` that is not the flow's. */
  #take(directoryId: string, flowToken: string | undefined, state: string | null): Pending {
    const key = flowToken === undefined ? undefined : sha256(flowToken);
    const pending = key === undefined ? undefined : this.#pending.get(key);
    if (key !== undefined) this.#pending.delete(key);
    if (
      pending === undefined ||
      pending.expiresAt <= this.#now() ||
      pending.directoryId !== directoryId ||
      state === null ||
      !sameText(pending.state, state)
    )
      throw new AppError(
        'LOGIN_FLOW_INVALID',
        'no login flow of this browser matches this answer (its cookie and state)',
      );
    return pending;
  }

  /**
   * The callback: the account the provider proved, and what the flow was for. `callbackUrl` is
   * the URL the provider sent the browser to (its query: code, state, iss or error).
   */
  async finish(
    read: Reader,
    directoryId: string,
    flowToken: string | undefined,
    callbackUrl: URL,
  ): Promise<{ account: ProvenAccount; purpose: FlowPurpose }> {
    const settings = this.settings(read, directoryId);
    const pending = this.#take(directoryId, flowToken, callbackUrl.searchParams.get('state'));
    // The provider's own refusal (the user cancelled, consent denied: RFC 6749 4.1.2.1).
    const refused = callbackUrl.searchParams.get('error');
    if (refused !== null)
      throw Object.assign(
        new AppError(
          'EXTERNAL_LOGIN_DENIED',
          `the provider of ${directoryId} answered ${errorCode(refused)}`,
          { error: errorCode(refused) },
        ),
        { purpose: pending.purpose },
      );
    try {
      const config = await this.#config(directoryId, settings);
      // The URL the provider redirected to, as registered: the code is bound to it (RFC 6749
      // 4.1.3), whatever host header or proxy the request came through.
      const current = new URL(pending.redirectUri);
      current.search = callbackUrl.search;
      const account =
        settings.flavor === 'github'
          ? await this.#github(config, settings, directoryId, current, pending)
          : await this.#oidc(config, settings, directoryId, current, pending);
      return { account, purpose: pending.purpose };
    } catch (err) {
      throw Object.assign(providerError(directoryId, err, 'at the callback'), {
        purpose: pending.purpose,
      });
    }
  }

  async #oidc(
    config: client.Configuration,
    settings: OidcSettings,
    directoryId: string,
    current: URL,
    pending: Pending,
  ): Promise<ProvenAccount> {
    const tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (claims === undefined)
      throw new AppError('EXTERNAL_TOKEN_INVALID', 'no ID token', { reason: 'no-id-token' });
    let info: Record<string, unknown> = { ...claims };
    // Providers may leave the address out of the ID token and answer it at userinfo (OIDC Core
    // 5.4); its `sub` must be the ID token's (Core 5.3.2), which openid-client checks.
    if (
      claims.email === undefined &&
      settings.scopes.includes('email') &&
      config.serverMetadata().userinfo_endpoint !== undefined
    ) {
      const more = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      info = { ...more, ...claims };
    }
    return this.#account(directoryId, settings.issuer, claims.sub, info);
  }

  #account(
    directoryId: string,
    issuer: string,
    subject: string,
    info: Record<string, unknown>,
  ): ProvenAccount {
    const text = (v: unknown, max: number) =>
      typeof v === 'string' && v.length > 0 && v.length <= max ? v : undefined;
    if (subject.length === 0 || subject.length > 255)
      throw new AppError('EXTERNAL_TOKEN_INVALID', 'the subject is empty or too long', {
        reason: 'subject',
      });
    const email = text(info.email, 320);
    return {
      directoryId,
      issuer,
      subject,
      email,
      // Only an explicit `true` (a string "true" from a lax provider is not verification).
      emailVerified: email !== undefined && info.email_verified === true,
      name: text(info.name, 400),
      username: text(info.preferred_username, 256),
    };
  }

  async #github(
    config: client.Configuration,
    settings: OidcSettings,
    directoryId: string,
    current: URL,
    pending: Pending,
  ): Promise<ProvenAccount> {
    const api = settings.endpoints?.api;
    if (api === undefined) throw new AppError('EXTERNAL_PROVIDER_UNAVAILABLE', 'no GitHub API');
    const tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      idTokenExpected: false,
    });
    const get = async (path: string): Promise<unknown> => {
      const response = await client.fetchProtectedResource(
        config,
        tokens.access_token,
        new URL(`${api}${path}`),
        'GET',
        null,
        new Headers({
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
          // GitHub refuses API requests without one.
          'user-agent': 'authlog',
        }),
      );
      if (response.status === 401 || response.status === 403 || response.status === 404)
        return undefined;
      if (!response.ok)
        throw new AppError('EXTERNAL_PROVIDER_UNAVAILABLE', `GitHub answered ${response.status}`, {
          reason: `http-${response.status}`,
        });
      return response.json();
    };
    const user = (await get('/user')) as Record<string, unknown> | undefined;
    const id = user?.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0)
      throw new AppError('EXTERNAL_TOKEN_INVALID', 'GitHub named no user id', { reason: 'user' });
    // Without the user:email scope GitHub answers 404: no verified address then.
    const emails = await get('/user/emails');
    const primary = Array.isArray(emails)
      ? (emails as Record<string, unknown>[]).find((e) => e?.primary === true)
      : undefined;
    return this.#account(directoryId, settings.issuer, String(id), {
      email: primary?.email,
      email_verified: primary?.verified === true,
      name: user?.name,
      preferred_username: user?.login,
    });
  }

  /** Flows waiting for their callback (status, tests). */
  get pendingFlows(): number {
    return this.#pending.size;
  }
}

/** The purpose a failed callback was for, when its flow was found (the audit record of a failed
 * link names its principal). */
export const purposeOf = (err: unknown): FlowPurpose | undefined =>
  typeof err === 'object' && err !== null && 'purpose' in err
    ? (err as { purpose: FlowPurpose }).purpose
    : undefined;
