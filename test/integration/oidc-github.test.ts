// Threat: logging in as someone else through GitHub, which speaks OAuth 2 without OpenID Connect
// (no ID token, nothing signed): the node must take the user's identity only from GitHub's own API
// over the access token it obtained itself (RFC 6749 4.1.3, with PKCE: RFC 7636, RFC 9700 2.1.1),
// by its immutable numeric id (a login can be renamed and then taken by someone else), and take an
// address as verified only when GET /user/emails says `verified: true` (Sudhodanan & Paverd,
// "Pre-hijacked accounts", USENIX Security 2022; ASVS 5.0 V6.8).
//
// GitHub itself is a STAND-IN here: a small fastify server in this process serving GitHub's
// documented endpoints (docs.github.com "Authorizing OAuth apps" and the REST API):
//   GET  /login/oauth/authorize      redirects back with a code (the user "approved")
//   POST /login/oauth/access_token   checks client secret, redirect URI and the PKCE verifier
//   GET  /user, GET /user/emails     the user and its addresses, for the bearer token
// It answers errors as GitHub does (HTTP 200 with an `error` member on the token endpoint).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { accountKeyOf } from '../../src/authn/external-login.ts';
import { derivedId } from '../../src/authn/provision.ts';
import { OidcService } from '../../src/directories/oidc.ts';
import { SYSTEM_ACTOR } from '../../src/events/envelope.ts';
import { auth, startApp } from '../support/app.ts';
import { signInAtProvider } from '../support/openid-provider.ts';

const CALLBACK = 'http://127.0.0.1:8080/v1/auth/oidc/github/callback';
const SECRET = 'the github app secret';

type GhUser = {
  id: number;
  login: string;
  name: string;
  emails: { email: string; verified: boolean; primary: boolean }[];
};

const startGitHubStandIn = async () => {
  const users = new Map<number, GhUser>();
  const codes = new Map<string, { userId: number; challenge: string; redirectUri: string }>();
  const tokens = new Map<string, number>();
  const state = { next: 0, apiDown: false };
  const app: FastifyInstance = Fastify();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );
  app.get('/login/oauth/authorize', async (request, reply) => {
    const q = request.query as Record<string, string>;
    if (q.code_challenge_method !== 'S256' || !q.code_challenge || !q.state)
      return reply.code(400).send('PKCE S256 and state required');
    const code = randomBytes(10).toString('hex');
    codes.set(code, {
      userId: state.next,
      challenge: q.code_challenge,
      redirectUri: q.redirect_uri ?? '',
    });
    return reply.redirect(
      `${q.redirect_uri}?code=${code}&state=${encodeURIComponent(q.state)}`,
      302,
    );
  });
  app.post('/login/oauth/access_token', async (request) => {
    const b = request.body as Record<string, string>;
    const c = codes.get(b.code ?? '');
    codes.delete(b.code ?? '');
    const challenge = createHash('sha256')
      .update(b.code_verifier ?? '')
      .digest('base64url');
    if (b.client_secret !== SECRET) return { error: 'incorrect_client_credentials' };
    if (c === undefined || c.redirectUri !== b.redirect_uri || c.challenge !== challenge)
      return {
        error: 'bad_verification_code',
        error_description: 'The code passed is incorrect or expired.',
      };
    const token = `gho_${randomBytes(16).toString('hex')}`;
    tokens.set(token, c.userId);
    return { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' };
  });
  const user = (request: { headers: Record<string, unknown> }) => {
    const h = String(request.headers.authorization ?? '');
    const id = tokens.get(h.replace(/^(Bearer|token) /i, ''));
    return id === undefined ? undefined : users.get(id);
  };
  app.get('/user', async (request, reply) => {
    if (state.apiDown) return reply.code(502).send({ message: 'Server Error' });
    if (!request.headers['user-agent']) return reply.code(403).send({ message: 'UA required' });
    const u = user(request);
    if (u === undefined) return reply.code(401).send({ message: 'Bad credentials' });
    return { id: u.id, login: u.login, name: u.name };
  });
  app.get('/user/emails', async (request, reply) => {
    const u = user(request);
    if (u === undefined) return reply.code(401).send({ message: 'Bad credentials' });
    return u.emails.map((e) => ({ ...e, visibility: e.primary ? 'public' : null }));
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { base, users, state, codes, close: () => app.close() };
};

describe('GitHub login (OAuth 2 and its user API; GitHub is a local stand-in)', () => {
  let gh: Awaited<ReturnType<typeof startGitHubStandIn>>;
  let ctx: Awaited<ReturnType<typeof startApp>>;

  const login = async (userId: number, rewrite?: (callback: URL) => void) => {
    const start = await ctx.app.inject({
      method: 'GET',
      url: '/v1/auth/oidc/github/start',
      headers: { accept: 'application/json' },
    });
    assert.equal(start.statusCode, 200, start.body);
    const flow = start.cookies.find((c) => c.name === '__Host-authlog-oidc');
    gh.state.next = userId;
    const back = await signInAtProvider(String(start.json().authorizationUrl), CALLBACK);
    rewrite?.(back);
    return ctx.app.inject({
      method: 'GET',
      url: `${back.pathname}${back.search}`,
      headers: { cookie: `__Host-authlog-oidc=${flow?.value}` },
    });
  };

  before(async () => {
    gh = await startGitHubStandIn();
    ctx = await startApp('github', {
      oidc: new OidcService({
        env: (name) => (name === 'AUTHLOG_OIDC_GITHUB_CLIENT_SECRET' ? SECRET : undefined),
      }),
    });
    const r = await ctx.app.inject({
      method: 'POST',
      url: '/v1/credential-directories',
      headers: auth,
      payload: {
        directoryId: 'github',
        name: 'GitHub',
        kind: 'oidc',
        evidences: ['trust'],
        oidc: {
          flavor: 'github',
          clientId: 'Iv1.authlogtest',
          redirectUris: [CALLBACK],
          endpoints: {
            authorization: `${gh.base}/login/oauth/authorize`,
            token: `${gh.base}/login/oauth/access_token`,
            api: gh.base,
          },
          registerOnFirstLogin: true,
          linkVerifiedEmail: true,
          timeoutMs: 2000,
        },
      },
    });
    assert.equal(r.statusCode, 201, r.body);
  });
  after(async () => {
    await ctx?.close();
    await gh?.close();
  });

  it('a first login registers by the numeric id; a renamed login is the same principal', async () => {
    gh.users.set(583231, {
      id: 583231,
      login: 'octocat',
      name: 'The Octocat',
      emails: [{ email: 'octocat@github.example', verified: true, primary: true }],
    });
    const first = await login(583231);
    assert.equal(first.statusCode, 200, first.body);
    const principalId = derivedId(
      'principal',
      'github',
      accountKeyOf('https://github.com', '583231'),
    );
    assert.equal(first.json().principalId, principalId);
    assert.deepEqual(
      first.json().evidences.map((e: { method: string }) => e.method),
      ['oidc'],
    );
    const user = gh.users.get(583231);
    if (user) user.login = 'octocat-renamed';
    const again = await login(583231);
    assert.equal(again.json().principalId, principalId);
    const p = await ctx.app.inject({
      method: 'GET',
      url: `/v1/principals/${principalId}`,
      headers: auth,
    });
    assert.equal(p.json().email, 'octocat@github.example');
  });

  it('an unverified primary address links nothing; a verified one links to the principal that verified it here', async () => {
    const made = await ctx.app.inject({
      method: 'POST',
      url: '/v1/principals',
      headers: auth,
      payload: { briefName: 'dana', identity: { name: 'dana' }, email: 'dana@corp.example' },
    });
    const dana = String(made.json().principalId);
    await ctx.node.execute(
      {
        name: 'GivenEmailVerified',
        decide: () => ({
          events: [
            {
              type: 'EmailVerified',
              data: {
                principalId: dana,
                tokenHash: randomBytes(32).toString('hex'),
                pii: { emailKey: 'dana@corp.example' },
              },
            },
          ],
          result: undefined,
        }),
      },
      { actor: SYSTEM_ACTOR },
    );
    gh.users.set(1001, {
      id: 1001,
      login: 'not-dana',
      name: 'Mallory',
      emails: [{ email: 'dana@corp.example', verified: false, primary: true }],
    });
    const attacker = await login(1001);
    assert.equal(attacker.statusCode, 200, attacker.body);
    assert.notEqual(attacker.json().principalId, dana, 'an unverified address never links');
    gh.users.set(1002, {
      id: 1002,
      login: 'dana',
      name: 'Dana',
      emails: [
        { email: 'other@corp.example', verified: true, primary: false },
        { email: 'dana@corp.example', verified: true, primary: true },
      ],
    });
    const real = await login(1002);
    assert.equal(real.statusCode, 200, real.body);
    assert.equal(real.json().principalId, dana);
  });

  it('GitHub refuses the code, or its API fails: problem+json, never a 500', async () => {
    gh.users.set(7, { id: 7, login: 'seven', name: 'Seven', emails: [] });
    // The code is spent at GitHub before the node exchanges it (another client raced it).
    const refused = await login(7, (back) => {
      gh.codes.delete(back.searchParams.get('code') ?? '');
    });
    assert.equal(refused.statusCode, 401, refused.body);
    assert.equal(refused.json().code, 'EXTERNAL_LOGIN_DENIED');
    assert.equal(refused.json().error, 'bad_verification_code');
    gh.state.apiDown = true;
    try {
      const down = await login(7);
      assert.equal(down.statusCode, 503, down.body);
      assert.equal(down.json().code, 'EXTERNAL_PROVIDER_UNAVAILABLE');
    } finally {
      gh.state.apiDown = false;
    }
  });
});
