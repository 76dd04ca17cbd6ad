// Active Directory logins (issue 17 item 1) against Samba's AD domain controller started here
// (test/support/samba.ts), and the AD bind sub-codes against answers recorded from it
// (test/support/ad-recorded-answers.json: recorded server answers, named as such, which stand in
// where Samba cannot run). Each case is headed by the threat it covers.
// - UPN (`user@corp.example`) and down-level (`CORP\user`) names are one account: ids derive
//   from objectGUID, so either name logs in as one principal;
// - disabled, expired, locked accounts and passwords that must change are refused, to the client
//   alike (ASVS 5.0 6.3.8), to the audit trail by name (`ldap:disabled` …);
// - nested groups through LDAP_MATCHING_RULE_IN_CHAIN (1.2.840.113556.1.4.1941).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ARGON2_FLOOR } from '../../src/authn/passwords.ts';
import { derivedId } from '../../src/authn/provision.ts';
import { refusalOf } from '../../src/directories/ldap.ts';
import { DirectoryService } from '../../src/directories/service.ts';
import type { App } from '../../src/http/types.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { auth, startApp } from '../support/app.ts';
import { type SambaDc, sambaMissing, startSambaDc } from '../support/samba.ts';

type Recorded = { case: string; resultCode: number; message: string; source: string };
const recorded = JSON.parse(
  readFileSync(new URL('../support/ad-recorded-answers.json', import.meta.url), 'utf8'),
) as Recorded[];

describe('AD bind sub-codes (recorded server answers)', () => {
  it('maps every recorded Samba answer to its refusal', () => {
    const expected: Record<string, string> = {
      'wrong-password': 'invalid-credentials',
      disabled: 'disabled',
      expired: 'expired',
      'must-change': 'must-change',
      locked: 'locked',
    };
    for (const r of recorded.filter((x) => x.resultCode === 49))
      assert.equal(refusalOf(r.message), expected[r.case], `${r.case} (${r.source})`);
  });

  it('maps the documented Windows sub-codes, with Windows’ trailing NUL', () => {
    const windows = (data: string) =>
      `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data ${data}, v4563\0`;
    const table: [string, string][] = [
      ['525', 'no-such-account'],
      ['52e', 'invalid-credentials'],
      ['530', 'restricted'],
      ['531', 'restricted'],
      ['532', 'password-expired'],
      ['533', 'disabled'],
      ['701', 'expired'],
      ['773', 'must-change'],
      ['775', 'locked'],
    ];
    for (const [data, refusal] of table) assert.equal(refusalOf(windows(data)), refusal, data);
    assert.equal(refusalOf('Invalid credentials'), 'invalid-credentials', 'OpenLDAP: no sub-code');
  });
});

const skip = sambaMissing();
if (skip) console.log(`# skipped: ${skip}`);

describe('Active Directory against a Samba domain controller', { skip }, () => {
  let dc: SambaDc;
  let service: DirectoryService;
  let app: App;
  let node: AuthlogNode;
  let close: () => Promise<void>;
  const PW = 'Corp-Passw0rd!x';

  const post = (url: string, payload: object, headers: Record<string, string> = auth) =>
    app.inject({ method: 'POST', url: `/v1${url}`, headers, payload });
  const login = (identity: string, password = PW) =>
    post('/auth/login', { identity, password, transport: 'bearer' }, {});
  const lastFailure = async () =>
    (await node.store.readAll({ streamPrefix: 'origin-' }))
      .filter((e) => e.type === 'AuthenticationFailed')
      .at(-1)?.data.reason;

  before(async () => {
    dc = await startSambaDc();
    service = new DirectoryService({
      env: (name) => (name === 'AUTHLOG_LDAP_CORP_AD_BIND_PASSWORD' ? dc.adminPassword : undefined),
      offlineCachePath: ':memory:',
      argon2: ARGON2_FLOOR,
    });
    ({ app, node, close } = await startApp('ad', { directories: service }));
    await dc.createUser('ann', PW);
    await dc.createUser('dan', PW);
    await dc.createUser('off', PW, { disabled: true });
    await dc.createUser('old', PW, { expired: true });
    await dc.createUser('new', PW, { mustChange: true });
    await dc.createGroup('wiki-admins');
    await dc.createGroup('wiki-staff');
    await dc.addToGroup('wiki-admins', 'dan');
    await dc.addToGroup('wiki-staff', 'wiki-admins');
    const res = await post('/credential-directories', {
      directoryId: 'corp-ad',
      name: 'corp-ad',
      kind: 'ldap',
      evidences: ['knowledge'],
      ldap: {
        flavor: 'ad',
        urls: [dc.ldapsUrl],
        caPem: dc.caPem,
        bindDn: dc.adminDn,
        baseDn: dc.baseDn,
        upnSuffixes: [dc.upnSuffix],
        netbiosDomain: dc.netbiosDomain,
        identityDirectoryId: 'internal',
        connectTimeoutMs: 2000,
        timeoutMs: 5000,
      },
    });
    assert.equal(res.statusCode, 201, res.body);
  });
  after(async () => {
    await close?.();
    await service?.close();
    await dc?.close();
  });

  it('logs in by sAMAccountName, UPN and down-level name as one principal (objectGUID)', async () => {
    const probe = await post('/credential-directories/corp-ad/test', {
      identity: 'ann',
      password: PW,
    });
    assert.equal(probe.json().ok, true, probe.body);
    const ids = new Set<string>();
    for (const name of ['ann', `ann@${dc.upnSuffix}`, `${dc.netbiosDomain}\\ann`, 'CORP\\ANN']) {
      const res = await login(name);
      assert.equal(res.statusCode, 200, `${name}: ${res.body}`);
      ids.add(res.json().principalId);
    }
    assert.deepEqual([...ids], [derivedId('principal', 'corp-ad', await dc.objectGUID('ann'))]);
  });

  // Threat: accounts the domain has disabled, expired or flagged still log in here.
  it('refuses disabled, expired and must-change accounts alike', async () => {
    for (const name of ['off', 'old', 'new']) {
      const res = await login(name);
      assert.equal(res.statusCode, 401, name);
      assert.equal(res.json().code, 'AUTHENTICATION_FAILED');
    }
  });

  // Threat: an account disabled (or locked) after its first login keeps logging in.
  it('refuses a provisioned account once it is disabled, and says why in the trail', async () => {
    assert.equal((await login('dan')).statusCode, 200);
    await dc.disableUser('dan');
    const res = await login('dan');
    assert.equal(res.statusCode, 401);
    assert.equal(await lastFailure(), 'ldap:disabled');
    const wrong = await login('ann', 'not-it');
    assert.equal(wrong.statusCode, 401);
    assert.equal(await lastFailure(), 'ldap:invalid-credentials');
  });

  it('resolves nested groups with LDAP_MATCHING_RULE_IN_CHAIN', async () => {
    await dc.createUser('eve', PW);
    await dc.addToGroup('wiki-admins', 'eve');
    const rd = await post('/role-directories', {
      directoryId: 'ad-groups',
      name: 'ad-groups',
      external: {
        credentialDirectoryId: 'corp-ad',
        groupBaseDn: dc.baseDn,
        groupFilter: '(objectClass=group)',
        memberAttribute: 'member',
        nameAttribute: 'cn',
        nested: 'in-chain',
        refreshSeconds: 300,
      },
    });
    assert.equal(rd.statusCode, 201, rd.body);
    await post('/privileges', { privilege: 'wiki.admin' });
    assert.equal(
      (await post('/roles', { roleId: 'wiki-staff', name: 'wiki-staff', directoryId: 'ad-groups' }))
        .statusCode,
      201,
    );
    await app.inject({
      method: 'PUT',
      url: '/v1/roles/wiki-staff/grants',
      headers: auth,
      payload: { privilege: 'wiki.admin', effect: 'grant' },
    });
    const eve = await login('eve');
    assert.equal(eve.statusCode, 200, eve.body);
    const check = await post('/authz/check', {
      principalId: eve.json().principalId,
      privilege: 'wiki.admin',
    });
    assert.equal(check.json().allow, true, 'staff through admins');
    const ann = await login('ann');
    const no = await post('/authz/check', {
      principalId: ann.json().principalId,
      privilege: 'wiki.admin',
    });
    assert.equal(no.json().allow, false);
  });
});
