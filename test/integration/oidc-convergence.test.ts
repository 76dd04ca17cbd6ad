// Threat: two sites, cut off from each other, disagree about who an external account is — one
// person becoming two principals, or an account logging in as one principal at one site and as
// another at the other once they exchange (DESIGN.md section 5; issue 18 item 4). Two in-process
// nodes, each with its own relying party and its own redirect URI (AUTHLOG_OIDC_<ID>_REDIRECT_URI),
// against one real OpenID provider (oidc-provider 9, in this process):
// - both register the same account while cut off: the ids derive from the directory and the
//   account (issuer + subject), so after the exchange there is one principal, one identity, one
//   link, and equal digests;
// - one site links the account to an existing principal (its link ceremony) while the other
//   registers it: the external account is a unique claim, the earliest link by (HLC, event id)
//   holds it on every node, the other is listed as `conflict` and logs nobody in.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { externalAccountsOf } from '../../projections/external-accounts.ts';
import { accountKeyOf } from '../../src/authn/external-login.ts';
import { derivedId } from '../../src/authn/provision.ts';
import { OidcService } from '../../src/directories/oidc.ts';
import { listConflicts } from '../../src/readmodel/conflicts.ts';
import { auth, startApp } from '../support/app.ts';
import { pull } from '../support/in-process.ts';
import { testTrust } from '../support/keys.ts';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type OpenIdProvider,
  signInAtProvider,
  startOpenIdProvider,
} from '../support/openid-provider.ts';

const callbackOf = (port: number) => `http://127.0.0.1:${port}/v1/auth/oidc/corp/callback`;
const SITES = { a: 8081, b: 8082 } as const;
const PASSWORD = 'a long enough passphrase 42';

type Site = Awaited<ReturnType<typeof startApp>>;

describe('two sites cut off register or link one external account: they converge', () => {
  let op: OpenIdProvider;
  let a: Site;
  let b: Site;

  const site = (id: 'a' | 'b') =>
    startApp(id, {
      trust: testTrust(id),
      oidc: new OidcService({
        env: (name) =>
          name === 'AUTHLOG_OIDC_CORP_CLIENT_SECRET'
            ? CLIENT_SECRET
            : name === 'AUTHLOG_OIDC_CORP_REDIRECT_URI'
              ? callbackOf(SITES[id])
              : undefined,
      }),
    });
  const exchange = async () => {
    await pull(a.node, b.node);
    await pull(b.node, a.node);
  };
  const inject = (s: Site, method: 'GET' | 'POST', url: string, headers = {}, payload?: object) =>
    s.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

  /** A login (or, with `start`, a link ceremony) at site `s` as provider account `accountId`. */
  const through = async (
    s: Site,
    id: 'a' | 'b',
    accountId: string,
    start?: () => Promise<{ authorizationUrl: string; cookie: string }>,
  ) => {
    const flow =
      (await start?.()) ??
      (await (async () => {
        const r = await inject(s, 'GET', '/v1/auth/oidc/corp/start', {
          accept: 'application/json',
        });
        assert.equal(r.statusCode, 200, r.body);
        const c = r.cookies.find((x) => x.name === '__Host-authlog-oidc');
        return {
          authorizationUrl: String(r.json().authorizationUrl),
          cookie: `__Host-authlog-oidc=${c?.value}`,
        };
      })());
    op.next = { accountId };
    const back = await signInAtProvider(flow.authorizationUrl, callbackOf(SITES[id]));
    return inject(s, 'GET', `${back.pathname}${back.search}`, { cookie: flow.cookie });
  };

  before(async () => {
    op = await startOpenIdProvider([callbackOf(SITES.a), callbackOf(SITES.b)]);
    a = await site('a');
    b = await site('b');
    const r = await inject(a, 'POST', '/v1/credential-directories', auth, {
      directoryId: 'corp',
      name: 'corp',
      kind: 'oidc',
      evidences: ['trust'],
      oidc: {
        issuer: op.issuer,
        clientId: CLIENT_ID,
        redirectUris: [callbackOf(SITES.a), callbackOf(SITES.b)],
        registerOnFirstLogin: true,
        linkVerifiedEmail: false,
        timeoutMs: 2000,
      },
    });
    assert.equal(r.statusCode, 201, r.body);
    const alice = await inject(a, 'POST', '/v1/principals', auth, {
      briefName: 'alice',
      identity: { name: 'alice' },
    });
    await inject(a, 'PUT' as 'POST', `/v1/principals/${alice.json().principalId}/password`, auth, {
      password: PASSWORD,
    });
    await exchange();
    op.accounts.set('zoe', {
      sub: 'zoe',
      email: 'zoe@example.org',
      email_verified: true,
      preferred_username: 'zoe',
    });
    op.accounts.set('yan', { sub: 'yan', preferred_username: 'yan' });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await op?.close();
  });

  it('both sites register the same account while cut off: one principal after the exchange', async () => {
    const atA = await through(a, 'a', 'zoe');
    const atB = await through(b, 'b', 'zoe');
    assert.equal(atA.statusCode, 200, atA.body);
    assert.equal(atB.statusCode, 200, atB.body);
    const expected = derivedId('principal', 'corp', accountKeyOf(op.issuer, 'zoe'));
    assert.equal(atA.json().principalId, expected);
    assert.equal(atB.json().principalId, expected);
    await exchange();
    assert.equal(a.node.digest(), b.node.digest());
    for (const s of [a, b]) {
      const links = externalAccountsOf(s.node.read, expected);
      assert.equal(links.length, 1, 'one link, not two');
      assert.equal(links[0]?.status, 'held');
      const p = await inject(s, 'GET', `/v1/principals/${expected}`, auth);
      assert.equal(p.json().identities.length, 1);
    }
    assert.equal((await through(b, 'b', 'zoe')).json().principalId, expected);
  });

  it('one site links the account by ceremony while the other registers it: the earlier link holds everywhere', async () => {
    const login = await inject(
      a,
      'POST',
      '/v1/auth/login',
      {},
      {
        identity: 'alice',
        password: PASSWORD,
        transport: 'bearer',
      },
    );
    const up = await inject(
      a,
      'POST',
      '/v1/auth/elevate',
      { authorization: `Bearer ${login.json().token}` },
      {
        password: PASSWORD,
      },
    );
    const bearer = { authorization: `Bearer ${up.json().token}` };
    const alice = String(login.json().principalId);
    const linked = await through(a, 'a', 'yan', async () => {
      const r = await inject(a, 'POST', '/v1/auth/oidc/corp/link', bearer, {});
      assert.equal(r.statusCode, 200, r.body);
      const c = r.cookies.find((x) => x.name === '__Host-authlog-oidc');
      return {
        authorizationUrl: String(r.json().authorizationUrl),
        cookie: `__Host-authlog-oidc=${c?.value}`,
      };
    });
    assert.equal(linked.statusCode, 200, linked.body);
    // Later, at the other site, which has not heard of the link: a first login registers.
    const registered = await through(b, 'b', 'yan');
    assert.equal(registered.statusCode, 200, registered.body);
    const newcomer = String(registered.json().principalId);
    assert.notEqual(newcomer, alice);
    await exchange();
    assert.equal(a.node.digest(), b.node.digest());
    for (const s of [a, b]) {
      assert.equal(externalAccountsOf(s.node.read, alice)[0]?.status, 'held');
      assert.equal(externalAccountsOf(s.node.read, newcomer)[0]?.status, 'conflict');
      const listed = listConflicts(s.node.read).filter((c) => c.kind === 'unique-external-account');
      assert.equal(listed.length, 1, 'the losing link is listed for review');
      assert.equal(listed[0]?.subject, externalAccountsOf(s.node.read, newcomer)[0]?.credentialId);
      assert.equal(listed[0]?.winner, externalAccountsOf(s.node.read, alice)[0]?.credentialId);
    }
    for (const [s, id] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      const r = await through(s, id, 'yan');
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().principalId, alice, `site ${id}`);
    }
  });
});
