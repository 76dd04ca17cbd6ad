// A real OpenID provider in the test process: oidc-provider 9 on loopback HTTP, configured by the
// test. Its accounts and which one "signs in" next are the test's (the interaction is finished
// programmatically: no login page, devInteractions off), or the next interaction is refused
// (`access_denied`). Its signing key can be rotated: a new Provider with a new key (new `kid`)
// then serves the same issuer. The current key is exported, so a test that needs an ID token this
// provider would never issue (another audience, expired) can mint one with it: such tokens are
// stand-ins, and the tests that use them say so.
import {
  createPrivateKey,
  sign as cryptoSign,
  generateKeyPairSync,
  type KeyObject,
  randomUUID,
} from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export const CLIENT_ID = 'authlog-test-client';
export const CLIENT_SECRET = 'a client secret the test provider shares with the node';

export type ProviderAccount = {
  readonly sub: string;
  readonly email?: string;
  readonly email_verified?: boolean;
  readonly name?: string;
  readonly preferred_username?: string;
};

type SigningKey = { readonly kid: string; readonly privateKey: KeyObject; readonly jwk: object };

const newKey = (): SigningKey => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomUUID();
  return {
    kid,
    privateKey,
    jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
  };
};

export type OpenIdProvider = {
  readonly issuer: string;
  readonly accounts: Map<string, ProviderAccount>;
  /** Who signs in at the next interaction, or the provider's refusal. */
  next: { readonly accountId: string } | { readonly error: string };
  /** The key ID tokens are signed with now. */
  key(): SigningKey;
  /** A new signing key (and kid); the JWKS publishes only it from now on. */
  rotateKey(): void;
  /** Requests the provider answered, by path (`/jwks`, `/token`, `/me` …). */
  readonly hits: Map<string, number>;
  /** When set, the token endpoint drops the connection (the provider is unreachable). */
  dropTokenRequests: boolean;
  close(): Promise<void>;
};

export const startOpenIdProvider = async (
  redirectUris: readonly string[],
): Promise<OpenIdProvider> => {
  const accounts = new Map<string, ProviderAccount>();
  const hits = new Map<string, number>();
  let key = newKey();
  let provider: Provider | undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/token' && out.dropTokenRequests) {
      req.socket.destroy();
      return;
    }
    if (path.startsWith('/interaction/') && provider !== undefined) {
      const p = provider;
      (async () => {
        await p.interactionDetails(req, res);
        const next = out.next;
        await p.interactionFinished(
          req,
          res,
          'error' in next
            ? { error: next.error, error_description: 'refused by the test' }
            : { login: { accountId: next.accountId } },
          { mergeWithLastSubmission: false },
        );
      })().catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
      return;
    }
    provider?.callback()(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const make = (k: SigningKey) =>
    new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [...redirectUris],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          token_endpoint_auth_method: 'client_secret_basic',
          id_token_signed_response_alg: 'ES256',
        },
      ],
      jwks: { keys: [k.jwk] },
      findAccount: async (_ctx: unknown, id: string) => {
        const a = accounts.get(id);
        return a && { accountId: id, claims: async () => ({ ...a }) };
      },
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['name', 'preferred_username'],
      },
      features: { devInteractions: { enabled: false } },
      interactions: {
        url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
      },
      // Consent is not what these tests are about: every client gets the scopes it asks for.
      loadExistingGrant: async (ctx: {
        oidc: {
          provider: { Grant: new (o: object) => GrantLike };
          client: { clientId: string };
          session: { accountId: string };
        };
      }) => {
        const grant = new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client.clientId,
          accountId: ctx.oidc.session.accountId,
        });
        grant.addOIDCScope('openid email profile');
        await grant.save();
        return grant;
      },
      cookies: { keys: ['a test cookie key for the provider'] },
      pkce: { required: () => true },
    });
  type GrantLike = { addOIDCScope(s: string): void; save(): Promise<string> };
  provider = make(key);

  const out: OpenIdProvider = {
    issuer,
    accounts,
    next: { error: 'access_denied' },
    key: () => key,
    rotateKey() {
      key = newKey();
      provider = make(key);
    },
    hits,
    dropTokenRequests: false,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return out;
};

const b64url = (x: object | Buffer): string =>
  (Buffer.isBuffer(x) ? x : Buffer.from(JSON.stringify(x))).toString('base64url');

/** Signs `payload` as an ES256 JWT with `key` (a stand-in token; see the file header). */
export const mintIdToken = (key: SigningKey, payload: Record<string, unknown>): string => {
  const input = `${b64url({ alg: 'ES256', kid: key.kid, typ: 'JWT' })}.${b64url(payload)}`;
  const signature = cryptoSign('sha256', Buffer.from(input), {
    key: createPrivateKey(key.privateKey.export({ format: 'pem', type: 'pkcs8' })),
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
};

/** The claims of a JWT (no verification: the test reads what the provider issued). */
export const jwtClaims = (jwt: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;

/**
 * The browser at the provider: follows its redirects (keeping its cookies) from the authorization
 * URL until the provider sends it to a URL starting with `redirectPrefix` (the node's callback),
 * and answers that URL.
 */
export const signInAtProvider = async (
  authorizationUrl: string,
  redirectPrefix: string,
): Promise<URL> => {
  const jar = new Map<string, string>();
  let url = authorizationUrl;
  for (let i = 0; i < 12; i++) {
    if (url.startsWith(redirectPrefix)) return new URL(url);
    const res = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const c of res.headers.getSetCookie()) {
      const pair = c.split(';')[0] ?? '';
      const at = pair.indexOf('=');
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const location = res.headers.get('location');
    if (location === null)
      throw new Error(`the provider answered ${res.status} at ${url}: ${await res.text()}`);
    url = new URL(location, url).href;
  }
  throw new Error('too many redirects at the provider');
};
