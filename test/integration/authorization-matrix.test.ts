// Threat: a route that lets the wrong caller in — one added without a guard, or a guard that
// forgets elevation, a kind of credential, or a principal the caller may not act on (issue 14
// item 8; OWASP ASVS 5.0 V8.1.1 "authorization rules are documented", V8.2.1 "function-level
// access", V8.3.1 "enforced at a trusted service layer"). The table below is every route of the
// app, read from the routes it registers: a route added without a row fails this test, and so
// does a row whose route is gone. Each row says what each caller gets:
//
//   anon   no credential
//   none   a principal with no role (elevated session)
//   self   that same principal acting on itself (null: the route names no principal)
//   rm     holds authlog.roles.manage (elevated session)
//   pm     holds authlog.principals.manage (elevated session)
//   admin  member of administrators (elevated session)
//   plain  the same administrator, session not elevated
//   token  the same administrator's access token (can never elevate)
//   peer   a replication peer: an access token of a principal holding authlog.replicate only
//
// Requests about "a principal" name a fresh one with no role (pm may act on it: it holds nothing
// pm lacks); taking over principals that hold more is test/integration/escalation.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import { generateNodeKey } from '../../src/events/signature.ts';
import { auth, startApp } from '../support/app.ts';

const PASSWORD = 'matrix passphrase 12345';
const CALLERS = ['anon', 'none', 'self', 'rm', 'pm', 'admin', 'plain', 'token', 'peer'] as const;
type CallerName = (typeof CALLERS)[number];
type Expect = readonly [
  number,
  number,
  number | null,
  number,
  number,
  number,
  number,
  number,
  number,
];
type Req = { method: string; url: string; body?: unknown; headers?: Record<string, string> };

/** What a row's request is about, for the caller at hand. */
type Ctx = {
  readonly caller: CallerName;
  /** The principal the request is about: the caller itself in the `self` column, else a fresh one. */
  about(options?: { password?: boolean }): Promise<string>;
  /** The caller's headers; `fresh` logs in anew (for routes that end or rotate the session). */
  headers(fresh?: boolean): Promise<Record<string, string>>;
  /** The session id behind `headers(true)`, or a fresh session of `about()` (password login). */
  sessionOf(principal: string): Promise<string>;
  op(method: string, url: string, body?: unknown): Promise<Record<string, unknown>>;
  uniq(prefix: string): string;
};
type Row = { route: string; expect: Expect; req(c: Ctx): Promise<Req> | Req; resets?: boolean };

//                                                          anon none self  rm   pm  admin plain token peer
const ROWS: Row[] = [
  row('GET /health', [200, 200, null, 200, 200, 200, 200, 200, 200], () => get('/health')),
  row('GET /openapi.json', [200, 200, null, 200, 200, 200, 200, 200, 200], () =>
    get('/openapi.json'),
  ),
  row('GET /docs', [200, 200, null, 200, 200, 200, 200, 200, 200], () => get('/docs')),
  row('GET /metrics', [401, 403, null, 403, 403, 200, 200, 200, 200], () => get('/metrics')),
  row('GET /v1/replication/feed', [401, 403, null, 403, 403, 200, 200, 200, 200], () =>
    get('/v1/replication/feed?limit=1'),
  ),
  row('GET /v1/replication/status', [401, 403, null, 403, 403, 200, 200, 200, 200], () =>
    get('/v1/replication/status'),
  ),
  row('GET /v1/status', [401, 403, null, 403, 403, 200, 200, 200, 403], () => get('/v1/status')),
  row('GET /v1/cluster', [401, 403, null, 403, 403, 200, 200, 200, 403], () => get('/v1/cluster')),
  row('POST /v1/cluster/nodes', [401, 403, null, 403, 403, 201, 403, 403, 403], (c) =>
    post('/v1/cluster/nodes', {
      nodeId: c.uniq('site').toLowerCase(),
      publicKey: generateNodeKey().key.publicKey,
      families: ['authentication'],
    }),
  ),
  row(
    'POST /v1/cluster/nodes/:nodeId/removal',
    [401, 403, null, 403, 403, 200, 403, 403, 403],
    async (c) => {
      const nodeId = c.uniq('gone').toLowerCase();
      await c.op('POST', '/v1/cluster/nodes', {
        nodeId,
        publicKey: generateNodeKey().key.publicKey,
        families: ['audit'],
      });
      return post(`/v1/cluster/nodes/${nodeId}/removal`, { reason: 'decommissioned' });
    },
  ),
  row('POST /v1/cluster/key-rotation', [401, 403, null, 403, 403, 200, 403, 403, 403], () =>
    post('/v1/cluster/key-rotation', {}),
  ),
  row('GET /v1/conflicts', [401, 403, null, 403, 403, 200, 200, 200, 403], () =>
    get('/v1/conflicts'),
  ),
  // Principals and identities
  row('GET /v1/principals', [401, 200, null, 200, 200, 200, 200, 200, 200], () =>
    get('/v1/principals'),
  ),
  row('GET /v1/principals/:id', [401, 403, 200, 403, 200, 200, 200, 200, 403], async (c) =>
    get(`/v1/principals/${await c.about()}`),
  ),
  row('POST /v1/principals', [401, 403, null, 403, 201, 201, 201, 201, 403], (c) => ({
    method: 'POST',
    url: '/v1/principals',
    body: { briefName: 'new', identity: { name: c.uniq('new') } },
  })),
  row('PATCH /v1/principals/:id', [401, 403, 403, 403, 200, 200, 403, 403, 403], async (c) => ({
    method: 'PATCH',
    url: `/v1/principals/${await c.about()}`,
    body: { email: `${c.uniq('m')}@example.org` },
  })),
  row(
    'POST /v1/principals/:id/deactivate',
    [401, 403, 403, 403, 200, 200, 403, 403, 403],
    async (c) => post(`/v1/principals/${await c.about()}/deactivate`, {}),
  ),
  row(
    'POST /v1/principals/:id/activate',
    [401, 403, null, 403, 200, 200, 403, 403, 403],
    async (c) => {
      const id = await c.about();
      await c.op('POST', `/v1/principals/${id}/deactivate`, {});
      return post(`/v1/principals/${id}/activate`, {});
    },
  ),
  row('DELETE /v1/principals/:id', [401, 403, 403, 403, 200, 200, 403, 403, 403], async (c) => ({
    method: 'DELETE',
    url: `/v1/principals/${await c.about()}`,
  })),
  row(
    'POST /v1/principals/:id/identities',
    [401, 403, 403, 403, 201, 201, 403, 403, 403],
    async (c) => post(`/v1/principals/${await c.about()}/identities`, { name: c.uniq('alias') }),
  ),
  row('GET /v1/identities/:id', [401, 403, 200, 403, 200, 200, 200, 200, 403], async (c) =>
    get(`/v1/identities/${await identityOf(c, await c.about())}`),
  ),
  row('DELETE /v1/identities/:id', [401, 403, 403, 403, 200, 200, 403, 403, 403], async (c) => ({
    method: 'DELETE',
    url: `/v1/identities/${await identityOf(c, await c.about())}`,
  })),
  // Directories
  row('GET /v1/identity-directories', [401, 403, null, 403, 200, 200, 200, 200, 403], () =>
    get('/v1/identity-directories'),
  ),
  row('POST /v1/identity-directories', [401, 403, null, 403, 201, 201, 201, 201, 403], (c) =>
    post('/v1/identity-directories', { name: c.uniq('dir') }),
  ),
  row(
    'PATCH /v1/identity-directories/:id',
    [401, 403, null, 403, 200, 200, 403, 403, 403],
    async (c) => {
      const made = await c.op('POST', '/v1/identity-directories', { name: c.uniq('dir') });
      return {
        method: 'PATCH',
        url: `/v1/identity-directories/${String(made.directoryId)}`,
        body: { credentialDirectoryIds: ['password'] },
      };
    },
  ),
  row('GET /v1/credential-directories', [401, 403, null, 403, 200, 200, 200, 200, 403], () =>
    get('/v1/credential-directories'),
  ),
  row('POST /v1/credential-directories', [401, 403, null, 403, 201, 201, 201, 201, 403], (c) =>
    post('/v1/credential-directories', {
      directoryId: c.uniq('cd'),
      name: c.uniq('cd'),
      kind: 'password',
      evidences: ['knowledge'],
    }),
  ),
  // Every internal identity may use a new credential directory (the internal directory admits any),
  // administrators among them: only an administrator changes what one proves.
  row(
    'PATCH /v1/credential-directories/:id',
    [401, 403, null, 403, 403, 200, 403, 403, 403],
    async (c) => {
      const id = c.uniq('cd');
      await c.op('POST', '/v1/credential-directories', {
        directoryId: id,
        name: id,
        kind: 'password',
        evidences: ['knowledge'],
      });
      return {
        method: 'PATCH',
        url: `/v1/credential-directories/${id}`,
        body: { evidences: ['knowledge', 'ownership'] },
      };
    },
  ),
  // Testing a directory makes the node bind with a password it is given (a guessing oracle that
  // records no failure): administrators only. This app has no LDAP directory, so passing the
  // guard is a 404.
  row(
    'POST /v1/credential-directories/:id/test',
    [401, 403, null, 403, 403, 404, 404, 404, 403],
    () => post('/v1/credential-directories/no-such-ldap/test', { identity: 'x', password: 'y' }),
  ),
  // Authorization
  row('POST /v1/authz/check', [401, 403, 200, 403, 403, 200, 200, 200, 403], async (c) =>
    post('/v1/authz/check', { principalId: await c.about(), privilege: 'authlog.admin' }),
  ),
  row('POST /v1/authz/check/batch', [401, 403, 200, 403, 403, 200, 200, 200, 403], async (c) =>
    post('/v1/authz/check/batch', {
      checks: [{ principalId: await c.about(), privilege: 'authlog.admin' }],
    }),
  ),
  row('GET /v1/authz/objects', [401, 403, 200, 403, 403, 200, 200, 200, 403], async (c) =>
    get(`/v1/authz/objects?principalId=${await c.about()}&resourceType=doc&action=select`),
  ),
  row('POST /v1/privileges', [401, 403, null, 200, 403, 200, 200, 200, 403], (c) =>
    post('/v1/privileges', { privilege: `app.${c.uniq('p')}` }),
  ),
  row('POST /v1/resource-types', [401, 403, null, 200, 403, 200, 200, 200, 403], (c) =>
    post('/v1/resource-types', { resourceType: `app.${c.uniq('t')}` }),
  ),
  row('POST /v1/role-directories', [401, 403, null, 201, 403, 201, 201, 201, 403], (c) =>
    post('/v1/role-directories', { name: c.uniq('rd') }),
  ),
  row('GET /v1/roles', [401, 403, null, 200, 403, 200, 200, 200, 403], () => get('/v1/roles')),
  row('GET /v1/roles/:id', [401, 403, null, 200, 403, 200, 200, 200, 403], () =>
    get(`/v1/roles/${ADMINISTRATORS_ROLE}`),
  ),
  row('POST /v1/roles', [401, 403, null, 201, 403, 201, 201, 201, 403], (c) =>
    post('/v1/roles', { name: c.uniq('role') }),
  ),
  row('PATCH /v1/roles/:id', [401, 403, null, 200, 403, 200, 200, 200, 403], async (c) => ({
    method: 'PATCH',
    url: `/v1/roles/${await freshRole(c)}`,
    body: { name: c.uniq('renamed') },
  })),
  row('DELETE /v1/roles/:id', [401, 403, null, 200, 403, 200, 403, 403, 403], async (c) => ({
    method: 'DELETE',
    url: `/v1/roles/${await freshRole(c)}`,
  })),
  row('PUT /v1/roles/:id/grants', [401, 403, null, 200, 403, 200, 403, 403, 403], async (c) => ({
    method: 'PUT',
    url: `/v1/roles/${await freshRole(c)}/grants`,
    body: { privilege: 'authlog.roles.manage', effect: 'grant' },
  })),
  row('POST /v1/roles/:id/members', [401, 403, null, 200, 403, 200, 403, 403, 403], async (c) =>
    post(`/v1/roles/${await freshRole(c)}/members`, { principalId: await c.about() }),
  ),
  row(
    'DELETE /v1/roles/:id/members/:principalId',
    [401, 403, null, 200, 403, 200, 403, 403, 403],
    async (c) => {
      const role = await freshRole(c);
      const member = await c.about();
      await c.op('POST', `/v1/roles/${role}/members`, { principalId: member });
      return { method: 'DELETE', url: `/v1/roles/${role}/members/${member}` };
    },
  ),
  // Credentials
  row(
    'PUT /v1/principals/:id/password',
    [401, 403, 403, 403, 200, 200, 403, 403, 403],
    async (c) => ({
      method: 'PUT',
      url: `/v1/principals/${await c.about()}/password`,
      body: { password: 'a fresh passphrase 98765' },
    }),
  ),
  row('POST /v1/principals/:id/tokens', [401, 403, 201, 403, 201, 201, 403, 403, 403], async (c) =>
    post(`/v1/principals/${await c.about()}/tokens`, { name: c.uniq('t') }),
  ),
  row('DELETE /v1/tokens/:id', [401, 403, 200, 403, 200, 200, 403, 403, 403], async (c) => {
    const t = await c.op('POST', `/v1/principals/${await c.about()}/tokens`, { name: c.uniq('t') });
    return { method: 'DELETE', url: `/v1/tokens/${String(t.credentialId)}` };
  }),
  row('POST /v1/principals/:id/otp', [401, 403, 201, 403, 201, 201, 403, 403, 403], async (c) =>
    post(`/v1/principals/${await c.about()}/otp`, { name: c.uniq('otp') }),
  ),
  // A wrong first code: 400 once the caller may confirm, 403 before. No elevation: enrolling took
  // one, and the code proves the seed is held.
  row(
    'POST /v1/credentials/:id/confirm',
    [401, 403, 400, 403, 400, 400, 400, 400, 403],
    async (c) => {
      const otp = await c.op('POST', `/v1/principals/${await c.about()}/otp`, {
        name: c.uniq('otp'),
      });
      return post(`/v1/credentials/${String(otp.credentialId)}/confirm`, { code: 'x1' });
    },
  ),
  row('POST /v1/principals/:id/subnets', [401, 403, 201, 403, 201, 201, 403, 403, 403], async (c) =>
    post(`/v1/principals/${await c.about()}/subnets`, {
      name: c.uniq('s'),
      cidrs: ['10.9.0.0/16'],
    }),
  ),
  row('DELETE /v1/credentials/:id', [401, 403, 200, 403, 200, 200, 403, 403, 403], async (c) => {
    const s = await c.op('POST', `/v1/principals/${await c.about()}/subnets`, {
      name: c.uniq('s'),
      cidrs: ['10.8.0.0/16'],
    });
    return { method: 'DELETE', url: `/v1/credentials/${String(s.credentialId)}` };
  }),
  row(
    'GET /v1/principals/:id/credentials',
    [401, 403, 200, 403, 200, 200, 200, 200, 403],
    async (c) => get(`/v1/principals/${await c.about()}/credentials`),
  ),
  // Client certificates: registering is like enrolling OTP; a rule needs no certificate file.
  row(
    'POST /v1/principals/:id/certificates',
    [401, 403, 201, 403, 201, 201, 403, 403, 403],
    async (c) =>
      post(`/v1/principals/${await c.about()}/certificates`, {
        name: c.uniq('c'),
        subject: `CN=${c.uniq('cn')}`,
      }),
  ),
  row(
    'GET /v1/principals/:id/certificates',
    [401, 403, 200, 403, 200, 200, 200, 200, 403],
    async (c) => get(`/v1/principals/${await c.about()}/certificates`),
  ),
  // Recovery codes: generating is like enrolling OTP (a way into the account); the count is read
  // like the principal's credentials.
  row(
    'POST /v1/principals/:id/recovery-codes',
    [401, 403, 201, 403, 201, 201, 403, 403, 403],
    async (c) => post(`/v1/principals/${await c.about()}/recovery-codes`, {}),
  ),
  row(
    'GET /v1/principals/:id/recovery-codes',
    [401, 403, 200, 403, 200, 200, 200, 200, 403],
    async (c) => {
      const id = await c.about();
      await c.op('POST', `/v1/principals/${id}/recovery-codes`, {});
      return get(`/v1/principals/${id}/recovery-codes`);
    },
  ),
  // Passkeys: registering is like enrolling OTP, judged before the authenticator's answer (a made-up
  // ceremony: 400 once the caller may register, 403 before). Real ceremonies: passkeys.test.ts.
  row(
    'POST /v1/principals/:id/passkeys/options',
    [401, 403, 200, 403, 200, 200, 403, 403, 403],
    async (c) => post(`/v1/principals/${await c.about()}/passkeys/options`, {}),
  ),
  row(
    'POST /v1/principals/:id/passkeys',
    [401, 403, 400, 403, 400, 400, 403, 403, 403],
    async (c) => post(`/v1/principals/${await c.about()}/passkeys`, FAKE_REGISTRATION),
  ),
  row('GET /v1/principals/:id/passkeys', [401, 403, 200, 403, 200, 200, 200, 200, 403], async (c) =>
    get(`/v1/principals/${await c.about()}/passkeys`),
  ),
  // A deny list for everyone: administrators only, elevated.
  row('POST /v1/certificates/revoked', [401, 403, null, 403, 403, 200, 403, 403, 403], () =>
    post('/v1/certificates/revoked', { sha256: 'ab'.repeat(32), reason: 'matrix' }),
  ),
  // Sessions, lockout, policies
  row('GET /v1/principals/:id/sessions', [401, 403, 200, 403, 200, 200, 200, 200, 403], async (c) =>
    get(`/v1/principals/${await c.about()}/sessions`),
  ),
  row(
    'POST /v1/principals/:id/sessions/end',
    [401, 403, null, 403, 200, 200, 403, 403, 403],
    async (c) => post(`/v1/principals/${await c.about()}/sessions/end`, {}),
  ),
  row('GET /v1/principals/:id/lockout', [401, 403, 200, 403, 200, 200, 200, 200, 403], async (c) =>
    get(`/v1/principals/${await c.about()}/lockout`),
  ),
  row('POST /v1/principals/:id/unlock', [401, 403, null, 403, 200, 200, 403, 403, 403], async (c) =>
    post(`/v1/principals/${await c.about()}/unlock`, {}),
  ),
  row('GET /v1/auth/policies', [401, 403, null, 403, 200, 200, 200, 200, 403], () =>
    get('/v1/auth/policies'),
  ),
  row(
    'PUT /v1/auth/policies/:scope/:id',
    [401, 403, null, 403, 200, 200, 403, 403, 403],
    async (c) => ({
      method: 'PUT',
      url: `/v1/auth/policies/principal/${await c.about()}`,
      body: { require: ['knowledge'] },
    }),
  ),
  // Someone else's session is not even confirmed to exist without the privilege (404).
  row('DELETE /v1/auth/sessions/:id', [401, 404, 200, 404, 200, 200, 403, 403, 404], async (c) => ({
    method: 'DELETE',
    url: `/v1/auth/sessions/${await c.sessionOf(await c.about({ password: true }))}`,
  })),
  // The caller's own session: public routes answer alike whoever asks; session routes need one.
  row('POST /v1/auth/login', [200, 200, null, 200, 200, 200, 200, 200, 200], async (c) =>
    post('/v1/auth/login', {
      identity: await identityName(c, await c.about({ password: true })),
      password: PASSWORD,
      transport: 'bearer',
    }),
  ),
  // No trusted gateway is configured here: nobody logs in through one, whoever asks.
  row('POST /v1/auth/gateway-login', [401, 401, null, 401, 401, 401, 401, 401, 401], async (c) => ({
    ...post('/v1/auth/gateway-login', { transport: 'bearer' }),
    headers: { ...(await c.headers()), 'remote-user': 'admin' },
  })),
  // Social / OpenID Connect logins (no `oidc` directory here: the routes answer for one that is
  // not there). Start and callback are public; a link needs the caller's own elevated session.
  row('GET /v1/auth/oidc/:directoryId/start', [404, 404, null, 404, 404, 404, 404, 404, 404], () =>
    get('/v1/auth/oidc/no-such-oidc/start'),
  ),
  row(
    'GET /v1/auth/oidc/:directoryId/callback',
    [404, 404, null, 404, 404, 404, 404, 404, 404],
    () => get('/v1/auth/oidc/no-such-oidc/callback?code=x&state=y'),
  ),
  row('POST /v1/auth/oidc/:directoryId/link', [401, 404, null, 404, 404, 404, 403, 404, 404], () =>
    post('/v1/auth/oidc/no-such-oidc/link', {}),
  ),
  // The principal itself or authlog.principals.manage, elevated: 404 for a link that is not there.
  row(
    'DELETE /v1/principals/:id/external-accounts/:credentialId',
    [401, 403, 404, 403, 404, 404, 403, 403, 403],
    async (c) => ({
      method: 'DELETE',
      url: `/v1/principals/${await c.about()}/external-accounts/no-such-link`,
    }),
  ),
  // Passwordless: public, the same answer whoever asks; an assertion of no known passkey fails.
  row('POST /v1/auth/passkeys/login/options', [200, 200, null, 200, 200, 200, 200, 200, 200], () =>
    post('/v1/auth/passkeys/login/options', { transport: 'bearer' }),
  ),
  row('POST /v1/auth/passkeys/login', [401, 401, null, 401, 401, 401, 401, 401, 401], () =>
    post('/v1/auth/passkeys/login', { ...FAKE_ASSERTION, transport: 'bearer' }),
  ),
  // The caller's own session: nobody here holds a passkey (404), tokens have no session (404).
  row(
    'POST /v1/auth/passkeys/session/options',
    [401, 404, null, 404, 404, 404, 404, 404, 404],
    () => post('/v1/auth/passkeys/session/options', {}),
  ),
  row('POST /v1/auth/passkeys/evidence', [401, 401, null, 401, 401, 401, 401, 404, 404], () =>
    post('/v1/auth/passkeys/evidence', FAKE_ASSERTION),
  ),
  row('POST /v1/auth/passkeys/elevate', [401, 401, null, 401, 401, 401, 401, 404, 404], () =>
    post('/v1/auth/passkeys/elevate', FAKE_ASSERTION),
  ),
  // A wrong password: 401 with a session, 404 without one (tokens cannot add evidence).
  row('POST /v1/auth/evidence', [401, 401, null, 401, 401, 401, 401, 404, 404], () =>
    post('/v1/auth/evidence', { password: 'not the password at all' }),
  ),
  row('POST /v1/auth/elevate', [401, 401, null, 401, 401, 401, 401, 404, 404], () =>
    post('/v1/auth/elevate', { password: 'not the password at all' }),
  ),
  row('POST /v1/auth/password', [401, 401, null, 401, 401, 401, 401, 404, 404], () =>
    post('/v1/auth/password', {
      currentPassword: 'not the password at all',
      newPassword: 'whatever comes next 123',
      endOtherSessions: false,
    }),
  ),
  row('POST /v1/auth/logout', [401, 200, null, 200, 200, 200, 200, 404, 404], async (c) => ({
    ...post('/v1/auth/logout', {}),
    headers: await c.headers(true),
  })),
  row('GET /v1/auth/session', [401, 200, null, 200, 200, 200, 200, 404, 404], () =>
    get('/v1/auth/session'),
  ),
  row('GET /v1/auth/sessions', [401, 200, null, 200, 200, 200, 200, 200, 200], () =>
    get('/v1/auth/sessions'),
  ),
  row('POST /v1/auth/register', [403, 403, null, 403, 403, 403, 403, 403, 403], (c) =>
    post('/v1/auth/register', {
      email: `${c.uniq('r')}@example.org`,
      briefName: 'r',
      password: 'registering passphrase 1',
    }),
  ),
  row('POST /v1/auth/verify-email', [400, 400, null, 400, 400, 400, 400, 400, 400], () =>
    post('/v1/auth/verify-email', { token: `alv_${'A'.repeat(43)}` }),
  ),
  row('POST /v1/auth/reset/request', [202, 202, null, 202, 202, 202, 202, 202, 202], () =>
    post('/v1/auth/reset/request', { identity: 'nobody-in-particular' }),
  ),
  row('POST /v1/auth/reset/complete', [400, 400, null, 400, 400, 400, 400, 400, 400], () =>
    post('/v1/auth/reset/complete', {
      token: `alr_${'A'.repeat(43)}`,
      password: 'a new passphrase 777',
    }),
  ),
  row('GET /v1/audit', [401, 403, null, 403, 403, 200, 200, 200, 403], () =>
    get('/v1/audit?limit=1'),
  ),
  // Last: it ends every other session of the caller (the harness logs in again afterwards).
  {
    ...row(
      'POST /v1/auth/sessions/end-all',
      [401, 200, null, 200, 200, 200, 200, 200, 200],
      async (c) => ({
        ...post('/v1/auth/sessions/end-all', { keepCurrent: true }),
        headers: await c.headers(true),
      }),
    ),
    resets: true,
  },
];

/** Well-formed WebAuthn answers to a ceremony that was never started. */
const FAKE_CREDENTIAL = {
  id: 'AAAA',
  rawId: 'AAAA',
  type: 'public-key',
  clientExtensionResults: {},
};
const FAKE_REGISTRATION = {
  ceremonyId: 'never-issued',
  name: 'matrix',
  credential: { ...FAKE_CREDENTIAL, response: { clientDataJSON: 'e30', attestationObject: 'oA' } },
};
const FAKE_ASSERTION = {
  ceremonyId: 'never-issued',
  credential: {
    ...FAKE_CREDENTIAL,
    response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' },
  },
};

function row(route: string, expect: Expect, req: Row['req']): Row {
  return { route, expect, req };
}
function get(url: string): Req {
  return { method: 'GET', url };
}
function post(url: string, body: unknown): Req {
  return { method: 'POST', url, body };
}
async function identityOf(c: Ctx, principal: string): Promise<string> {
  const p = await c.op('GET', `/v1/principals/${principal}`);
  return String((p.identities as { id: string }[])[0]?.id);
}
async function identityName(c: Ctx, principal: string): Promise<string> {
  const p = await c.op('GET', `/v1/principals/${principal}`);
  return String((p.identities as { name: string }[])[0]?.name);
}
async function freshRole(c: Ctx): Promise<string> {
  const r = await c.op('POST', '/v1/roles', { name: c.uniq('role') });
  return String(r.roleId);
}

describe('authorization matrix: every route × every kind of caller', () => {
  let ctx: Awaited<ReturnType<typeof startApp>>;
  const routes = new Set<string>();
  let n = 0;
  const uniq = (prefix: string) => {
    n += 1;
    return `${prefix}-${n}`;
  };

  const inject = async (r: Req) => {
    const res = await ctx.app.inject({
      method: r.method as 'GET',
      url: r.url,
      headers: {
        ...r.headers,
        ...(r.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(r.body === undefined ? {} : { payload: JSON.stringify(r.body) }),
    });
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(res.body) as Record<string, unknown>;
    } catch {}
    return { status: res.statusCode, body, text: res.body };
  };
  const op = async (method: string, url: string, body?: unknown) => {
    const r = await inject({ method, url, headers: auth, ...(body === undefined ? {} : { body }) });
    assert.ok(r.status < 300, `${method} ${url}: ${r.text}`);
    return r.body;
  };
  const principal = async (password: boolean) => {
    const name = uniq('p');
    const made = await op('POST', '/v1/principals', { briefName: name, identity: { name } });
    const id = String(made.principalId);
    if (password) await op('PUT', `/v1/principals/${id}/password`, { password: PASSWORD });
    return { id, name };
  };
  const login = async (name: string, elevate: boolean) => {
    const r = await inject({
      method: 'POST',
      url: '/v1/auth/login',
      body: { identity: name, password: PASSWORD, transport: 'bearer' },
    });
    assert.equal(r.status, 200, r.text);
    let token = String(r.body.token);
    if (elevate) {
      const up = await inject({
        method: 'POST',
        url: '/v1/auth/elevate',
        headers: { authorization: `Bearer ${token}` },
        body: { password: PASSWORD },
      });
      assert.equal(up.status, 200, up.text);
      token = String(up.body.token);
    }
    return { token, sessionId: String(r.body.sessionId) };
  };

  type Who = {
    id?: string;
    name?: string;
    elevate?: boolean;
    token?: string;
    session?: { token: string; sessionId: string };
  };
  const who: Partial<Record<CallerName, Who>> = {};
  const headersOf = async (c: CallerName, fresh = false): Promise<Record<string, string>> => {
    const w = who[c];
    if (!w) return {};
    if (w.token) return { authorization: `Bearer ${w.token}` };
    if (fresh) {
      const s = await login(w.name!, w.elevate!);
      return { authorization: `Bearer ${s.token}` };
    }
    w.session ??= await login(w.name!, w.elevate!);
    return { authorization: `Bearer ${w.session.token}` };
  };

  before(async () => {
    ctx = await startApp('matrix', {
      // The rows' wrong passwords and made-up passkey answers all count against the same few
      // principals (admin and plain are one): the lockout threshold is not what is tested here.
      auth: {
        outboxDir: mkdtempSync(join(tmpdir(), 'authlog-matrix-')),
        elevationS: 3600,
        lockoutThreshold: 100,
      },
      configure: (app) =>
        app.addHook('onRoute', (r) => {
          for (const m of [r.method].flat()) if (m !== 'HEAD') routes.add(`${m} ${r.url}`);
        }),
    });
    const roleWith = async (privilege: string) => {
      const r = await op('POST', '/v1/roles', { name: uniq('holders') });
      await op('PUT', `/v1/roles/${String(r.roleId)}/grants`, { privilege, effect: 'grant' });
      return String(r.roleId);
    };
    const member = async (role: string, id: string) =>
      op('POST', `/v1/roles/${role}/members`, { principalId: id });
    const none = await principal(true);
    who.none = { ...none, elevate: true };
    who.self = who.none;
    const rm = await principal(true);
    await member(await roleWith('authlog.roles.manage'), rm.id);
    who.rm = { ...rm, elevate: true };
    const pm = await principal(true);
    await member(await roleWith('authlog.principals.manage'), pm.id);
    who.pm = { ...pm, elevate: true };
    const admin = await principal(true);
    await member(ADMINISTRATORS_ROLE, admin.id);
    who.admin = { ...admin, elevate: true };
    who.plain = { ...admin, elevate: false };
    const t = await op('POST', `/v1/principals/${admin.id}/tokens`, { name: 'admin-ci' });
    who.token = { id: admin.id, token: String(t.token) };
    const peer = await principal(false);
    await member(await roleWith('authlog.replicate'), peer.id);
    const pt = await op('POST', `/v1/principals/${peer.id}/tokens`, { name: 'peer' });
    who.peer = { id: peer.id, token: String(pt.token) };
  });
  after(() => ctx.close());

  it('has a row for every registered route, and a route for every row', () => {
    const rows = new Set(ROWS.map((r) => r.route));
    assert.deepEqual(
      [...routes].filter((r) => !rows.has(r)).sort(),
      [],
      'routes without a row in the authorization matrix',
    );
    assert.deepEqual([...rows].filter((r) => !routes.has(r)).sort(), [], 'rows without a route');
  });

  it('answers every caller as the table says', async () => {
    const wrong: string[] = [];
    for (const r of ROWS) {
      for (const [i, caller] of CALLERS.entries()) {
        const expected = r.expect[i];
        if (expected === null || expected === undefined) continue;
        const c: Ctx = {
          caller,
          about: async (o = {}) =>
            caller === 'self' ? who.self!.id! : (await principal(o.password ?? false)).id,
          headers: (fresh) => headersOf(caller, fresh),
          sessionOf: async (p) => {
            if (caller === 'self') {
              const s = await login(who.self!.name!, true);
              return s.sessionId;
            }
            const found = await op('GET', `/v1/principals/${p}`);
            return (await login(String((found.identities as { name: string }[])[0]?.name), false))
              .sessionId;
          },
          op,
          uniq,
        };
        const req = await r.req(c);
        const answer = await inject({ ...req, headers: req.headers ?? (await headersOf(caller)) });
        if (answer.status !== expected)
          wrong.push(
            `${r.route} as ${caller}: ${answer.status}, expected ${expected} (${String(answer.body.code ?? answer.text.slice(0, 80))})`,
          );
      }
      if (r.resets) for (const w of Object.values(who)) delete w.session;
    }
    assert.deepEqual(wrong, []);
  });
});
