// Logins through an external OpenLDAP directory (issue 17), against a real slapd started here
// (test/support/slapd.ts) over LDAPS with a CA made by openssl. Each case is headed by the threat
// it covers. What is decided, and why:
// - the directory's password is checked by a bind and never stored (ASVS 5.0 6.4.1: no copy of
//   another system's secret); the service account's password comes from this node's environment;
// - an empty or blank password is refused before any bind (RFC 4513 5.1.2, 6.3.1: a DN with an
//   empty password is an unauthenticated bind that many servers accept);
// - names are escaped into filters (RFC 4515 3), so `*)(uid=*))(|(uid=*` finds nobody;
// - every failure is the one AUTHENTICATION_FAILED (ASVS 5.0 6.3.8), an outage a 503 that
//   records no failure: a cut-off directory does not lock people out;
// - only an administrator, elevated, points a node at a directory (it decides who logs in as
//   every linked principal).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LdapSettings } from '../../projections/credentials.ts';
import { type LdapInput, ldapSettings } from '../../src/authn/credentials.ts';
import { ARGON2_FLOOR } from '../../src/authn/passwords.ts';
import { derivedId } from '../../src/authn/provision.ts';
import { LdapDirectory } from '../../src/directories/ldap.ts';
import { DirectoryService } from '../../src/directories/service.ts';
import type { App } from '../../src/http/types.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { auth, startApp } from '../support/app.ts';
import { freePort, otherCa, type Slapd, slapdMissing, startSlapd } from '../support/slapd.ts';

const skip = slapdMissing();
if (skip) console.log(`# skipped: ${skip}`);

const PW = { alice: 'alice-ldap-pw', bob: 'bob-ldap-pw', carol: 'carol-ldap-pw' };

describe('LDAP credential directory against a real slapd', { skip }, () => {
  let slapd: Slapd;
  let service: DirectoryService;
  let app: App;
  let node: AuthlogNode;
  let close: () => Promise<void>;
  const env: Record<string, string> = {};

  const post = (url: string, payload: object, headers: Record<string, string> = auth) =>
    app.inject({ method: 'POST', url: `/v1${url}`, headers, payload });
  const login = (identity: string, password: string, directory?: string) =>
    post(
      '/auth/login',
      { identity, password, transport: 'bearer', ...(directory ? { directory } : {}) },
      {},
    );
  const ldapOf = (overrides: object = {}) => ({
    flavor: 'openldap',
    urls: [slapd.ldapsUrl],
    caPem: slapd.caPem,
    bindDn: slapd.serviceDn,
    baseDn: slapd.peopleDn,
    connectTimeoutMs: 1000,
    timeoutMs: 2000,
    identityDirectoryId: 'internal',
    ...overrides,
  });
  const define = (directoryId: string, ldap: object, headers = auth) =>
    post(
      '/credential-directories',
      { directoryId, name: directoryId, kind: 'ldap', evidences: ['knowledge'], ldap },
      headers,
    );
  const events = async () => node.store.readAll({ streamPrefix: 'origin-' });

  before(async () => {
    slapd = await startSlapd();
    env.AUTHLOG_LDAP_CORP_BIND_PASSWORD = slapd.servicePassword;
    env.AUTHLOG_LDAP_SPARE_BIND_PASSWORD = slapd.servicePassword;
    service = new DirectoryService({
      env: (name) => env[name],
      offlineCachePath: ':memory:',
      argon2: ARGON2_FLOOR,
    });
    ({ app, node, close } = await startApp('ldap', { directories: service }));
    const res = await define('corp', ldapOf());
    assert.equal(res.statusCode, 201, res.body);
  });
  after(async () => {
    await close?.();
    await service?.close();
    await slapd?.close();
  });

  it('provisions a person seen for the first time, with ids derived from entryUUID', async () => {
    const res = await login('alice', PW.alice);
    assert.equal(res.statusCode, 200, res.body);
    const uuid = await slapd.entryUUID('alice');
    const principalId = derivedId('principal', 'corp', uuid);
    assert.equal(res.json().principalId, principalId);
    assert.deepEqual(
      res.json().evidences.map((e: { method: string }) => e.method),
      ['ldap'],
    );
    const again = await login('alice', PW.alice);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().principalId, principalId);
    const registered = (await events()).filter(
      (e) => e.type === 'PrincipalRegistered' && e.data.principalId === principalId,
    );
    assert.equal(registered.length, 1, 'provisioned once');
  });

  // Threat: one person's first login sent twice at once makes two principals (or a 500).
  it('provisions once when first logins race', async () => {
    await slapd.addUser({ uid: 'dora', password: 'dora-ldap-pw', cn: 'Dora' });
    const answers = await Promise.all([1, 2, 3, 4].map(() => login('dora', 'dora-ldap-pw')));
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [200, 200, 200, 200],
    );
    assert.equal(new Set(answers.map((r) => r.json().principalId)).size, 1);
    const registered = (await events()).filter(
      (e) =>
        e.type === 'PrincipalRegistered' && e.data.principalId === answers[0]?.json().principalId,
    );
    assert.equal(registered.length, 1);
  });

  // Threat: unbounded guessing of a directory password through authlog (NIST SP 800-63B rev 4
  // 3.2.2: the verifier limits failed attempts); the directory's own lockout is not relied on.
  it('locks a directory account out after the failure threshold, whatever the directory says', async () => {
    await slapd.addUser({ uid: 'lee', password: 'lee-ldap-pw', cn: 'Lee' });
    assert.equal((await login('lee', 'lee-ldap-pw')).statusCode, 200);
    for (let i = 0; i < 10; i++) assert.equal((await login('lee', `guess-${i}`)).statusCode, 401);
    const locked = await login('lee', 'lee-ldap-pw');
    assert.equal(locked.statusCode, 401, 'the right password is refused while locked');
    const failures = (await events()).filter((e) => e.type === 'AuthenticationFailed');
    assert.equal(failures.at(-1)?.data.reason, 'locked');
  });

  // Threat: a hostile or odd directory answers a name authlog refuses (control characters).
  it('refuses, without a 500, an account whose directory name is not a valid identity name', async () => {
    await slapd.addUser({ uid: 'mallory\u202e', password: 'mallory-ldap-pw', cn: 'M' });
    const res = await login('mallory\u202e', 'mallory-ldap-pw');
    assert.ok([400, 401].includes(res.statusCode), res.body);
  });

  // Threat: a directory password copied into the log or the read model (one breach becomes two).
  it('stores no password: neither the user’s nor the service account’s', async () => {
    const all = JSON.stringify(await events(), (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    for (const secret of [PW.alice, slapd.servicePassword]) assert.ok(!all.includes(secret));
  });

  // Threat: password guessing through the directory (a wrong password for a known account).
  it('refuses a wrong password alike, and records why for the audit trail', async () => {
    const res = await login('alice', 'not-her-password');
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'AUTHENTICATION_FAILED');
    const failures = (await events()).filter((e) => e.type === 'AuthenticationFailed');
    assert.equal(failures.at(-1)?.data.reason, 'ldap:invalid-credentials');
  });

  // Threat: RFC 4513 5.1.2 unauthenticated bind — a DN with an empty password "succeeds".
  it('refuses empty and blank passwords before any bind', async () => {
    // A directory that cannot be reached at all: a bind that were sent would be DIRECTORY_UNAVAILABLE.
    const dead = new LdapDirectory('dead', {
      settings: ldapOf() as unknown as LdapSettings,
      urls: [`ldaps://127.0.0.1:${await freePort()}`],
      ca: null,
      bindPassword: undefined,
    });
    for (const blank of ['', ' ', '\t', '   \n'])
      assert.deepEqual(await dead.bind(`uid=alice,${slapd.peopleDn}`, blank), {
        ok: false,
        refusal: 'empty-password',
      });
    await dead.close();
    for (const blank of [' ', '\t\t'])
      assert.equal((await login('alice', blank)).statusCode, 401, JSON.stringify(blank));
  });

  // Threat: a misconfigured directory (the service account's password wrong on this node) read
  // as wrong user passwords, or answered with a 500.
  it('answers DIRECTORY_UNAVAILABLE when the service account is refused', async () => {
    const wrong = new LdapDirectory('wrongsvc', {
      settings: ldapSettings(node.read, ldapOf() as LdapInput),
      urls: [slapd.ldapsUrl],
      ca: slapd.caPem,
      bindPassword: 'not-the-service-password',
    });
    await assert.rejects(wrong.findByName('alice'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'DIRECTORY_UNAVAILABLE');
      assert.match(err.message, /result 49/);
      return true;
    });
    await wrong.close();
  });

  // Threat: LDAP filter injection in the login name (RFC 4515 escaping).
  it('escapes login names: filter syntax finds nobody', async () => {
    const before = (await events()).filter((e) => e.type === 'PrincipalRegistered').length;
    for (const name of [
      '*',
      'a*',
      '*)(uid=*))(|(uid=*',
      'alice)(uid=*',
      'alice*',
      '(uid=alice)',
      'alice\\2a',
    ])
      for (const pw of [PW.alice, PW.bob]) {
        const res = await login(name, pw);
        assert.equal(res.statusCode, 401, `${name}: ${res.body}`);
      }
    const afterCount = (await events()).filter((e) => e.type === 'PrincipalRegistered').length;
    assert.equal(afterCount, before, 'nobody provisioned');
  });

  // Threat: an application's Basic credentials checked less strictly than a login.
  it('accepts Basic for a directory account, and refuses a wrong password', async () => {
    const ok = await app.inject({
      method: 'GET',
      url: '/v1/auth/session',
      headers: { authorization: `Basic ${Buffer.from(`bob:${PW.bob}`).toString('base64')}` },
    });
    assert.notEqual(ok.statusCode, 401, ok.body);
    const bad = await app.inject({
      method: 'GET',
      url: '/v1/auth/session',
      headers: { authorization: `Basic ${Buffer.from('bob:wrong').toString('base64')}` },
    });
    assert.equal(bad.statusCode, 401);
  });

  // Threat: sudo mode granted without re-proving the directory password.
  it('elevates with the directory password, not with a wrong one', async () => {
    const token = (await login('alice', PW.alice)).json().token as string;
    const bearer = { authorization: `Bearer ${token}` };
    const wrong = await post('/auth/elevate', { password: 'wrong' }, bearer);
    assert.equal(wrong.statusCode, 401, wrong.body);
    const right = await post('/auth/elevate', { password: PW.alice }, bearer);
    assert.equal(right.statusCode, 200, right.body);
    assert.ok(right.json().elevatedUntil);
  });

  // Threat: a local password set beside the directory's, outliving the directory's decisions.
  it('refuses changing a directory-kept password here (DIRECTORY_MANAGED)', async () => {
    const token = (await login('alice', PW.alice)).json().token as string;
    const res = await post(
      '/auth/password',
      { currentPassword: PW.alice, newPassword: 'a brand new local passphrase 42' },
      { authorization: `Bearer ${token}` },
    );
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().code, 'DIRECTORY_MANAGED');
    assert.equal((await login('alice', 'a brand new local passphrase 42')).statusCode, 401);
  });

  // Threat: a principal with no role (or any administrator of less than everything) points the
  // node at a directory of its own, which then says yes to every password.
  it('lets only an elevated administrator define or repoint a directory', async () => {
    const token = (await login('carol', PW.carol)).json().token as string;
    const res = await define('evil', ldapOf({ identityDirectoryId: null }), {
      authorization: `Bearer ${token}`,
    });
    assert.equal(res.statusCode, 403, res.body);
    const repoint = await app.inject({
      method: 'PATCH',
      url: '/v1/credential-directories/corp',
      headers: { authorization: `Bearer ${token}` },
      payload: { ldap: ldapOf({ urls: ['ldaps://attacker.example:636'] }) },
    });
    assert.equal(repoint.statusCode, 403, repoint.body);
  });

  // Threat: passwords sent to the directory in clear.
  it('refuses plain ldap:// without StartTLS, and URLs that are not LDAP', async () => {
    for (const urls of [[slapd.url], ['http://127.0.0.1/'], ['ldaps://x/?cn=*'], []]) {
      const res = await define(`plain${urls.length}`, ldapOf({ urls }));
      assert.equal(res.statusCode, 400, `${urls}: ${res.body}`);
      assert.equal(res.json().code, 'VALIDATION_FAILED');
    }
    const startTls = await define(
      'starttls',
      ldapOf({ urls: [slapd.url], startTls: true, identityDirectoryId: null }),
    );
    assert.equal(startTls.statusCode, 201, startTls.body);
  });

  // Threat: a server impersonating the directory (a certificate from another CA).
  it('refuses a server whose certificate does not chain to the pinned CA (503, nothing recorded)', async () => {
    const res = await define('spare', ldapOf({ caPem: otherCa(), identityDirectoryId: null }));
    assert.equal(res.statusCode, 201, res.body);
    const probe = await post('/credential-directories/spare/test', {});
    assert.equal(probe.statusCode, 200);
    assert.equal(probe.json().ok, false);
    assert.match(probe.json().steps[0].detail, /certificate|self.signed|verify/i);
  });

  it('tests a directory step by step (authlog directory test)', async () => {
    const ok = await post('/credential-directories/corp/test', {
      identity: 'bob',
      password: PW.bob,
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(
      ok.json().steps.map((s: { step: string; ok: boolean }) => [s.step, s.ok]),
      [
        ['connect', true],
        ['service-bind', true],
        ['search', true],
        ['user-bind', true],
      ],
    );
    const bad = await post('/credential-directories/corp/test', {
      identity: 'bob',
      password: 'no',
    });
    assert.equal(bad.json().ok, false);
    assert.match(bad.json().steps.at(-1).detail, /invalid-credentials/);
    const nobody = await post('/credential-directories/corp/test', { identity: 'zed' });
    assert.equal(nobody.json().steps.at(-1).step, 'search');
    assert.equal(nobody.json().steps.at(-1).ok, false);
  });

  // A directory without a service account: the DN comes from a template (RFC 4514: names with a
  // DN-special character are refused, never spliced in), the entry read after the bind as the user.
  it('binds by a DN template without a service account, and refuses names that would change the DN', async () => {
    const dir = await post('/identity-directories', { directoryId: 'tpl', name: 'tpl' });
    assert.equal(dir.statusCode, 201, dir.body);
    const res = await define(
      'tpl-ldap',
      ldapOf({
        bindDn: null,
        bindDnTemplate: `uid={name},${slapd.peopleDn}`,
        identityDirectoryId: 'tpl',
      }),
    );
    assert.equal(res.statusCode, 201, res.body);
    const first = await login('bob', PW.bob, 'tpl');
    assert.equal(first.statusCode, 200, first.body);
    const again = await login('bob', PW.bob, 'tpl');
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().principalId, first.json().principalId);
    assert.equal((await login('bob', 'wrong', 'tpl')).statusCode, 401);
    for (const name of [`bob,${slapd.peopleDn}`, 'bob+cn=x', '#bob', ' bob', 'uid=bob'])
      assert.equal((await login(name, PW.bob, 'tpl')).statusCode, 401, name);
  });

  // Threat: one server down takes every login down with it.
  it('fails over to the next server when the first does not answer', async () => {
    const dead = `ldaps://127.0.0.1:${await freePort()}`;
    const res = await app.inject({
      method: 'PATCH',
      url: '/v1/credential-directories/corp',
      headers: auth,
      payload: { ldap: ldapOf({ urls: [dead, slapd.ldapsUrl] }) },
    });
    assert.equal(res.statusCode, 200, res.body);
    const ok = await login('bob', PW.bob);
    assert.equal(ok.statusCode, 200, ok.body);
  });

  // Threat: a directory outage read as wrong passwords (locking everyone out), or a wait without end.
  it('answers 503 DIRECTORY_UNAVAILABLE within the timeouts while the server is down, records no failure, and recovers', async () => {
    const failuresBefore = (await events()).filter((e) => e.type === 'AuthenticationFailed').length;
    await slapd.stop();
    try {
      const started = Date.now();
      const res = await login('bob', PW.bob);
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.json().code, 'DIRECTORY_UNAVAILABLE');
      assert.ok(Date.now() - started < 10_000, 'bounded by the connect timeouts');
      const first = await login('newcomer', 'whatever');
      assert.equal(first.statusCode, 503, 'a first login cannot be decided either');
    } finally {
      await slapd.start();
    }
    const failuresAfter = (await events()).filter((e) => e.type === 'AuthenticationFailed').length;
    assert.equal(failuresAfter, failuresBefore);
    const again = await login('bob', PW.bob);
    assert.equal(again.statusCode, 200, again.body);
  });
});
