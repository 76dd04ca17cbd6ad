// Threat: someone logs in as another person through an external OpenID provider, or takes over a
// principal through one (issue 18 item 4). Against a real OpenID provider running in this process
// (oidc-provider 9, test/support/openid-provider.ts), the node's relying party (openid-client 6):
// - the authorization code flow with PKCE S256 (RFC 7636; RFC 9700 2.1.1), `state` bound to the
//   browser by a single-use flow cookie (RFC 6749 10.12, RFC 9700 4.7: login CSRF; a replayed
//   callback finds no flow), `nonce` (OIDC Core 3.1.2.1, 15.5.2: a token injected from another
//   flow is refused);
// - the ID token's checks (OIDC Core 3.1.3.7): audience, expiry and signature. The provider never
//   issues a token for another audience, an expired one or a badly signed one, so these three are
//   STAND-INS: the real provider's token response is rewritten on its way to the node, its
//   id_token replaced by one minted with the provider's own key (or an unrelated key, same kid);
// - key rotation at the provider: the JWKS is fetched again when a token names a key the cached
//   set lacks (openid-client does so once the set is a minute old; the clock is moved on);
// - linking (Sudhodanan & Paverd, "Pre-hijacked accounts", USENIX Security 2022; ASVS 5.0 V6.8,
//   NIST SP 800-63C): an address the provider does not mark verified links nothing; a verified
//   one links only where the directory allows it and the principal verified it here too; a link
//   ceremony needs the principal's own elevated session;
// - failures at the provider (access_denied, unreachable, bad token) are problem+json with stable
//   codes, never a 500, and a failed link ceremony is recorded for its principal.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, it, mock } from 'node:test';
import { accountKeyOf } from '../../src/authn/external-login.ts';
import { derivedId } from '../../src/authn/provision.ts';
import { OidcService } from '../../src/directories/oidc.ts';
import { SYSTEM_ACTOR } from '../../src/events/envelope.ts';
import { auth, startApp } from '../support/app.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  jwtClaims,
  mintIdToken,
  type OpenIdProvider,
  signInAtProvider,
  startOpenIdProvider,
} from '../support/openid-provider.ts';

const BASE = 'http://127.0.0.1:8080';
const callbackOf = (dir: string) => `${BASE}/v1/auth/oidc/${dir}/callback`;
const DIRECTORIES = ['corp', 'strict', 'emails', 'gone'];
const PASSWORD = 'a long enough passphrase 42';

describe('OpenID Connect login against a real provider', () => {
  let op: OpenIdProvider;
  let ctx: Awaited<ReturnType<typeof startApp>>;
  /** When set, rewrites the id_token of the provider's token response (the stand-in). */
  let tamper: ((idToken: string) => string) | undefined;

  const standIn: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if (tamper === undefined || !url.endsWith('/token') || !res.ok) return res;
    const body = (await res.json()) as Record<string, unknown>;
    body.id_token = tamper(String(body.id_token));
    return new Response(JSON.stringify(body), {
      status: res.status,
      headers: { 'content-type': 'application/json' },
    });
  };

  const inject = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    options: { headers?: Record<string, string>; payload?: object } = {},
  ) =>
    ctx.app.inject({
      method,
      url,
      headers: options.headers ?? {},
      ...(options.payload ? { payload: options.payload } : {}),
    });

  const define = async (directoryId: string, oidc: Record<string, unknown>) => {
    const r = await inject('POST', '/v1/credential-directories', {
      headers: auth,
      payload: {
        directoryId,
        name: directoryId,
        kind: 'oidc',
        evidences: ['trust'],
        oidc: {
          issuer: op.issuer,
          clientId: CLIENT_ID,
          redirectUris: [callbackOf(directoryId)],
          timeoutMs: 2000,
          ...oidc,
        },
      },
    });
    assert.equal(r.statusCode, 201, r.body);
  };

  const flowCookie = (res: { cookies: { name: string; value: string }[] }) => {
    const c = res.cookies.find((x) => x.name === '__Host-authlog-oidc');
    assert.ok(c, 'the start sets the flow cookie');
    return `__Host-authlog-oidc=${c.value}`;
  };

  /** Starts a flow as a browser, signs in at the provider as `accountId`, and answers the
   * callback URL with the flow cookie. */
  const throughProvider = async (
    directoryId: string,
    accountId: string,
    options: { start?: () => Promise<{ url: string; cookie: string }>; nonce?: string } = {},
  ) => {
    const started =
      (await options.start?.()) ??
      (await (async () => {
        const r = await inject('GET', `/v1/auth/oidc/${directoryId}/start`, {
          headers: { accept: 'application/json' },
        });
        assert.equal(r.statusCode, 200, r.body);
        return { url: String(r.json().authorizationUrl), cookie: flowCookie(r) };
      })());
    const url = new URL(started.url);
    if (options.nonce !== undefined) url.searchParams.set('nonce', options.nonce);
    op.next = { accountId };
    const back = await signInAtProvider(url.href, callbackOf(directoryId));
    return { callback: `${back.pathname}${back.search}`, cookie: started.cookie, url };
  };

  const login = async (directoryId: string, accountId: string) => {
    const { callback, cookie } = await throughProvider(directoryId, accountId);
    return inject('GET', callback, { headers: { cookie } });
  };

  const principalWithPassword = async (name: string, email?: string) => {
    const r = await inject('POST', '/v1/principals', {
      headers: auth,
      payload: { briefName: name, identity: { name }, ...(email ? { email } : {}) },
    });
    assert.equal(r.statusCode, 201, r.body);
    const id = String(r.json().principalId);
    const p = await inject('PUT' as 'POST', `/v1/principals/${id}/password`, {
      headers: auth,
      payload: { password: PASSWORD },
    });
    assert.ok(p.statusCode < 300, p.body);
    return id;
  };

  /** The principal verified `email` here (given: the self-service flow is tested elsewhere). */
  const verified = async (principalId: string, email: string) => {
    await ctx.node.execute(
      {
        name: 'GivenEmailVerified',
        decide: () => ({
          events: [
            {
              type: 'EmailVerified',
              data: {
                principalId,
                tokenHash: randomBytes(32).toString('hex'),
                pii: { emailKey: email.toLowerCase() },
              },
            },
          ],
          result: undefined,
        }),
      },
      { actor: SYSTEM_ACTOR },
    );
  };

  const elevatedBearer = async (name: string) => {
    const r = await inject('POST', '/v1/auth/login', {
      payload: { identity: name, password: PASSWORD, transport: 'bearer' },
    });
    assert.equal(r.statusCode, 200, r.body);
    const up = await inject('POST', '/v1/auth/elevate', {
      headers: { authorization: `Bearer ${r.json().token}` },
      payload: { password: PASSWORD },
    });
    assert.equal(up.statusCode, 200, up.body);
    return { authorization: `Bearer ${up.json().token}` };
  };

  before(async () => {
    op = await startOpenIdProvider(DIRECTORIES.map(callbackOf));
    const service = new OidcService({
      env: (name) => (name.endsWith('_CLIENT_SECRET') ? CLIENT_SECRET : undefined),
      fetch: standIn,
    });
    ctx = await startApp('oidc', { oidc: service });
    await define('corp', { registerOnFirstLogin: true, linkVerifiedEmail: true });
    await define('strict', { registerOnFirstLogin: false, linkVerifiedEmail: false });
    await define('emails', { registerOnFirstLogin: false, linkVerifiedEmail: true });
    op.accounts.set('ann', {
      sub: 'ann',
      email: 'ann@example.org',
      email_verified: true,
      name: 'Ann Example',
      preferred_username: 'ann',
    });
  });
  after(async () => {
    await ctx?.close();
    await op?.close();
  });

  it('code flow with PKCE S256: a first login registers the account, the next logs it in again', async () => {
    const { callback, cookie, url } = await throughProvider('corp', 'ann');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.ok((url.searchParams.get('code_challenge') ?? '').length >= 43);
    assert.ok(url.searchParams.get('state') && url.searchParams.get('nonce'));
    const first = await inject('GET', callback, { headers: { cookie } });
    assert.equal(first.statusCode, 200, first.body);
    const session = first.json();
    const expected = derivedId('principal', 'corp', accountKeyOf(op.issuer, 'ann'));
    assert.equal(session.principalId, expected);
    assert.deepEqual(
      session.evidences.map((e: { evidence: string; method: string }) => [e.evidence, e.method]),
      [['trust', 'oidc']],
    );
    assert.ok(first.cookies.some((c) => c.name === '__Host-authlog-session'));
    // The address came from userinfo (this provider keeps it out of the ID token) and is verified.
    const p = await inject('GET', `/v1/principals/${expected}`, { headers: auth });
    assert.equal(p.json().email, 'ann@example.org');
    const again = await login('corp', 'ann');
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().principalId, expected);
    // `authlog credential list` shows the linked account (one, however many logins).
    const creds = await inject('GET', `/v1/principals/${expected}/credentials`, { headers: auth });
    const oidc = creds.json().items.filter((c: { kind: string }) => c.kind === 'oidc');
    assert.equal(oidc.length, 1);
    assert.match(oidc[0].name, /ann@example\.org at http:\/\/127\.0\.0\.1/);
  });

  it('a callback with another state, without the flow cookie, or replayed finds no flow (400)', async () => {
    const { callback, cookie } = await throughProvider('corp', 'ann');
    const forged = callback.replace(/state=[^&]+/, 'state=forged');
    const wrong = await inject('GET', forged, { headers: { cookie } });
    assert.equal(wrong.statusCode, 400);
    assert.equal(wrong.json().code, 'LOGIN_FLOW_INVALID');
    // The flow is spent: the right state does not work after a wrong one.
    const after = await inject('GET', callback, { headers: { cookie } });
    assert.equal(after.json().code, 'LOGIN_FLOW_INVALID');
    // Login CSRF: the attacker's own callback URL opened in the victim's browser (no cookie).
    const csrf = await throughProvider('corp', 'ann');
    const noCookie = await inject('GET', csrf.callback);
    assert.equal(noCookie.json().code, 'LOGIN_FLOW_INVALID');
    // Replay: a used callback with its cookie.
    const fresh = await throughProvider('corp', 'ann');
    assert.equal(
      (await inject('GET', fresh.callback, { headers: { cookie: fresh.cookie } })).statusCode,
      200,
    );
    const replay = await inject('GET', fresh.callback, { headers: { cookie: fresh.cookie } });
    assert.equal(replay.json().code, 'LOGIN_FLOW_INVALID');
  });

  it('an ID token carrying another nonce is refused (real provider, tampered request)', async () => {
    const { callback, cookie } = await throughProvider('corp', 'ann', {
      nonce: 'chosen-by-an-attacker',
    });
    const r = await inject('GET', callback, { headers: { cookie } });
    assert.equal(r.statusCode, 401, r.body);
    assert.equal(r.json().code, 'EXTERNAL_TOKEN_INVALID');
    assert.equal(r.json().reason, 'OAUTH_JWT_CLAIM_COMPARISON_FAILED');
  });

  it('stand-in tokens: another audience, expired, badly signed are refused (401, never 500)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, (t: string) => string, string][] = [
      [
        'audience',
        (t) => mintIdToken(op.key(), { ...jwtClaims(t), aud: 'another-client' }),
        'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
      ],
      [
        'expired',
        (t) => mintIdToken(op.key(), { ...jwtClaims(t), iat: now - 7200, exp: now - 3600 }),
        'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
      ],
      [
        'signature',
        (t) => {
          // Same kid, same claims, signed by a key that is not the provider's.
          const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
          return mintIdToken({ ...op.key(), privateKey: other }, jwtClaims(t));
        },
        'OAUTH_INVALID_RESPONSE',
      ],
    ];
    try {
      for (const [what, rewrite, reason] of cases) {
        tamper = rewrite;
        const r = await login('corp', 'ann');
        assert.equal(r.statusCode, 401, `${what}: ${r.body}`);
        assert.equal(r.json().code, 'EXTERNAL_TOKEN_INVALID', what);
        assert.equal(r.json().reason, reason, what);
      }
      // The minting itself is sound: the provider's key and unchanged claims pass.
      tamper = (t) => mintIdToken(op.key(), jwtClaims(t));
      assert.equal((await login('corp', 'ann')).statusCode, 200);
    } finally {
      tamper = undefined;
    }
  });

  it('key rotation at the provider: the JWKS is fetched again and logins go on', async () => {
    const before = op.hits.get('/jwks') ?? 0;
    assert.ok(before >= 1);
    op.rotateKey();
    // openid-client fetches the set again for an unknown kid once its copy is a minute old.
    mock.timers.enable({ apis: ['Date'], now: Date.now() + 61_000 });
    try {
      const r = await login('corp', 'ann');
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(op.hits.get('/jwks'), before + 1);
    } finally {
      mock.timers.reset();
    }
  });

  it('the provider refuses, or cannot be reached: clear problems, never a 500', async () => {
    // access_denied: the user cancelled at the provider.
    const start = await inject('GET', '/v1/auth/oidc/corp/start', {
      headers: { accept: 'application/json' },
    });
    op.next = { error: 'access_denied' };
    const back = await signInAtProvider(String(start.json().authorizationUrl), callbackOf('corp'));
    const denied = await inject('GET', `${back.pathname}${back.search}`, {
      headers: { cookie: flowCookie(start) },
    });
    assert.equal(denied.statusCode, 401, denied.body);
    assert.equal(denied.json().code, 'EXTERNAL_LOGIN_DENIED');
    assert.equal(denied.json().error, 'access_denied');
    assert.match(String(denied.headers['content-type']), /application\/problem\+json/);
    // The token endpoint drops the connection.
    const flow = await throughProvider('corp', 'ann');
    op.dropTokenRequests = true;
    try {
      const down = await inject('GET', flow.callback, { headers: { cookie: flow.cookie } });
      assert.equal(down.statusCode, 503, down.body);
      assert.equal(down.json().code, 'EXTERNAL_PROVIDER_UNAVAILABLE');
    } finally {
      op.dropTokenRequests = false;
    }
    // Discovery of a provider that is not there.
    await define('gone', { issuer: 'http://127.0.0.1:9', timeoutMs: 1000 });
    const gone = await inject('GET', '/v1/auth/oidc/gone/start');
    assert.equal(gone.statusCode, 503, gone.body);
    assert.equal(gone.json().code, 'EXTERNAL_PROVIDER_UNAVAILABLE');
    // A directory that is not an oidc one.
    const none = await inject('GET', '/v1/auth/oidc/password/start');
    assert.equal(none.statusCode, 404);
  });

  it('an address the provider does not mark verified links to nobody, even where addresses may link', async () => {
    const victim = await principalWithPassword('vera', 'vera@example.org');
    await verified(victim, 'vera@example.org');
    // The attacker's account at the provider claims the victim's address, unverified.
    op.accounts.set('mallory', {
      sub: 'mallory',
      email: 'vera@example.org',
      email_verified: false,
    });
    const refused = await login('emails', 'mallory');
    assert.equal(refused.statusCode, 403, refused.body);
    assert.equal(refused.json().code, 'EXTERNAL_ACCOUNT_NOT_LINKED');
    // Where first logins register, the attacker gets a principal of its own, without the address.
    const own = await login('corp', 'mallory');
    assert.equal(own.statusCode, 200, own.body);
    assert.notEqual(own.json().principalId, victim);
    const p = await inject('GET', `/v1/principals/${own.json().principalId}`, { headers: auth });
    assert.equal(p.json().email, null);
  });

  it('a verified address links only where the directory allows it, and only to a principal that verified it here', async () => {
    const holder = await principalWithPassword('vic', 'vic@example.org');
    op.accounts.set('vic-ext', { sub: 'vic-ext', email: 'vic@example.org', email_verified: true });
    // Not verified here yet: the principal may be a pre-hijacker's (classic-federated merge).
    const early = await login('emails', 'vic-ext');
    assert.equal(early.json().code, 'EXTERNAL_ACCOUNT_NOT_LINKED');
    await verified(holder, 'vic@example.org');
    // A directory that does not allow linking by address.
    const strict = await login('strict', 'vic-ext');
    assert.equal(strict.json().code, 'EXTERNAL_ACCOUNT_NOT_LINKED');
    const linked = await login('emails', 'vic-ext');
    assert.equal(linked.statusCode, 200, linked.body);
    assert.equal(linked.json().principalId, holder);
  });

  it('a link ceremony from the principal’s own elevated session, a taken account refused and recorded, and unlinking', async () => {
    const alice = await principalWithPassword('alice');
    const bob = await principalWithPassword('bob');
    op.accounts.set('alice-ext', { sub: 'alice-ext' });
    // Not elevated: refused before anything starts.
    const plain = await inject('POST', '/v1/auth/login', {
      payload: { identity: 'alice', password: PASSWORD, transport: 'bearer' },
    });
    const notElevated = await inject('POST', '/v1/auth/oidc/strict/link', {
      headers: { authorization: `Bearer ${plain.json().token}` },
      payload: {},
    });
    assert.equal(notElevated.statusCode, 403);
    assert.equal(notElevated.json().code, 'ELEVATION_REQUIRED');
    const ceremony = (headers: Record<string, string>) => async () => {
      const r = await inject('POST', '/v1/auth/oidc/strict/link', { headers, payload: {} });
      assert.equal(r.statusCode, 200, r.body);
      return { url: String(r.json().authorizationUrl), cookie: flowCookie(r) };
    };
    const asAlice = await elevatedBearer('alice');
    const { callback, cookie } = await throughProvider('strict', 'alice-ext', {
      start: ceremony(asAlice),
    });
    const done = await inject('GET', callback, { headers: { cookie } });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().linked, true);
    const logged = await login('strict', 'alice-ext');
    assert.equal(logged.statusCode, 200, logged.body);
    assert.equal(logged.json().principalId, alice);
    // Bob cannot take it over with his own ceremony; the failure is recorded for him.
    const asBob = await elevatedBearer('bob');
    const taken = await throughProvider('strict', 'alice-ext', { start: ceremony(asBob) });
    const refused = await inject('GET', taken.callback, { headers: { cookie: taken.cookie } });
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(refused.json().code, 'EXTERNAL_ACCOUNT_TAKEN');
    const log = await ctx.node.eventLog.readLog({ maxCount: 100_000 });
    const failure = log.find(
      (e) =>
        e.type === 'AuthenticationFailed' &&
        (e.data as { principalId?: string }).principalId === bob &&
        String((e.data as { reason?: string }).reason).startsWith('link:'),
    );
    assert.ok(failure, 'the failed ceremony is in the audit trail');
    // Alice unlinks it: it logs nobody in, and does not link again by itself. Not while it is her
    // only way in, though: with her password revoked (by an administrator, her elevated session
    // still open) she would lock herself out (LAST_WAY_IN); with a password again she may.
    const credentialId = String(done.json().credentialId);
    const credentials = await inject('GET', `/v1/principals/${alice}/credentials`, {
      headers: auth,
    });
    const passwordId = String(
      (credentials.json().items as { kind: string; credentialId: string }[]).find(
        (c) => c.kind === 'password',
      )?.credentialId,
    );
    const revoked = await inject('DELETE', `/v1/credentials/${passwordId}`, { headers: auth });
    assert.equal(revoked.statusCode, 200, revoked.body);
    const last = await inject(
      'DELETE',
      `/v1/principals/${alice}/external-accounts/${credentialId}`,
      {
        headers: asAlice,
      },
    );
    assert.equal(last.statusCode, 409, last.body);
    assert.equal(last.json().code, 'LAST_WAY_IN');
    const again = await inject('PUT' as 'POST', `/v1/principals/${alice}/password`, {
      headers: auth,
      payload: { password: PASSWORD },
    });
    assert.ok(again.statusCode < 300, again.body);
    // A new password ends the elevation it was made in (sudo-bypass.test.ts): elevate again.
    const unlinked = await inject(
      'DELETE',
      `/v1/principals/${alice}/external-accounts/${credentialId}`,
      {
        headers: await elevatedBearer('alice'),
      },
    );
    assert.equal(unlinked.statusCode, 200, unlinked.body);
    const gone = await login('strict', 'alice-ext');
    assert.equal(gone.json().code, 'EXTERNAL_ACCOUNT_NOT_LINKED');
  });
});
