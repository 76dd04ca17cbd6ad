// Covers the LDAP test harness itself (test/support/slapd.ts, test/support/samba.ts): the real
// directory servers that LDAP authentication tests bind against must behave as those tests
// assume, or a threat test could pass against a server that refuses (or accepts) everything.
// Checked here: a user binds over LDAPS with the CA pinned, a client pinning an unrelated CA is
// refused (no silent fallback to an unverified server), a wrong or empty password does not bind,
// the service account reads groups (nested membership as member DNs) but never a password, a
// stopped server refuses connections and a restarted one serves the same data on the same port;
// and, where Samba runs, a user of an Active Directory domain binds with a userPrincipalName, and
// the DC still answers binds (wrong password, disabled, expired, must change, locked out) as
// test/support/ad-recorded-answers.json says, the answers tests replay where Samba is missing.
// Each part is skipped, with the reason printed, where its server is not installed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  Client,
  InsufficientAccessError,
  InvalidCredentialsError,
  UnwillingToPerformError,
} from 'ldapts';
import {
  type AdAnswer,
  recordAdAnswers,
  type SambaDc,
  sambaMissing,
  startSambaDc,
} from '../support/samba.ts';
import { otherCa, type Slapd, slapdMissing, startSlapd } from '../support/slapd.ts';

const bindable = async (url: string, dn: string, password: string, ca?: string[]) => {
  const client = new Client({
    url,
    connectTimeout: 2000,
    timeout: 5000,
    ...(ca ? { tlsOptions: { ca } } : {}),
  });
  try {
    await client.bind(dn, password);
  } finally {
    await client.unbind().catch(() => {});
  }
};

describe('slapd harness', { skip: slapdMissing() }, () => {
  let slapd: Slapd;
  before(async () => {
    slapd = await startSlapd();
  });
  after(async () => {
    await slapd?.close();
  });

  it('alice binds over LDAPS with the CA pinned; an unrelated CA is refused', async () => {
    await bindable(slapd.ldapsUrl, slapd.userDn('alice'), 'alice-ldap-pw', [slapd.caPem]);
    await assert.rejects(
      bindable(slapd.ldapsUrl, slapd.userDn('alice'), 'alice-ldap-pw', [otherCa()]),
      (e: Error & { code?: string }) => {
        assert.match(String(e.code ?? e.message), /UNABLE_TO_VERIFY|self.signed|unable to get/i);
        return true;
      },
    );
  });

  it('a wrong or empty password does not bind', async () => {
    await assert.rejects(
      bindable(slapd.url, slapd.userDn('alice'), 'wrong'),
      InvalidCredentialsError,
    );
    // RFC 4513 5.1.2: a DN with an empty password is an unauthenticated bind; slapd refuses it.
    await assert.rejects(bindable(slapd.url, slapd.userDn('alice'), ''), UnwillingToPerformError);
  });

  it('anonymous may bind, never search', async () => {
    const client = new Client({ url: slapd.url, timeout: 5000 });
    try {
      await assert.rejects(
        client.search(slapd.baseDn, { filter: '(uid=alice)' }),
        InsufficientAccessError,
      );
    } finally {
      await client.unbind();
    }
  });

  it('svc reads groups with member DNs, never userPassword', async () => {
    const client = new Client({ url: slapd.url, timeout: 5000 });
    try {
      await client.bind(slapd.serviceDn, slapd.servicePassword);
      const groups = await client.search(slapd.groupsDn, {
        scope: 'one',
        filter: '(objectClass=groupOfNames)',
        attributes: ['cn', 'member'],
      });
      const staff = groups.searchEntries.find((e) => e.cn === 'staff');
      assert.deepEqual([staff?.member].flat().sort(), [
        slapd.groupDn('admins'),
        slapd.userDn('alice'),
      ]);
      const alice = await client.search(slapd.userDn('alice'), {
        scope: 'base',
        attributes: ['*'],
      });
      assert.equal(alice.searchEntries[0]?.mail, 'alice@example.org');
      assert.deepEqual([alice.searchEntries[0]?.userPassword ?? []].flat(), []);
    } finally {
      await client.unbind();
    }
  });

  it('stopped: connection refused; started again: same port, same data', async () => {
    const uuid = await slapd.entryUUID('alice');
    const url = slapd.url;
    await slapd.stop();
    await assert.rejects(bindable(url, slapd.userDn('alice'), 'alice-ldap-pw'), /ECONNREFUSED/);
    await slapd.start();
    assert.equal(slapd.url, url);
    await bindable(url, slapd.userDn('alice'), 'alice-ldap-pw');
    assert.equal(await slapd.entryUUID('alice'), uuid);
  });

  it('users are added, change passwords and are deleted', async () => {
    await slapd.addUser({ uid: 'dave', password: '' });
    await assert.rejects(bindable(slapd.url, slapd.userDn('dave'), 'anything'));
    await slapd.setPassword('dave', 'dave-ldap-pw');
    await bindable(slapd.url, slapd.userDn('dave'), 'dave-ldap-pw');
    await slapd.deleteUser('dave');
    await assert.rejects(
      bindable(slapd.url, slapd.userDn('dave'), 'dave-ldap-pw'),
      InvalidCredentialsError,
    );
  });
});

describe('Samba AD DC harness', { skip: sambaMissing() }, () => {
  let dc: SambaDc;
  before(async () => {
    // The first run on a machine provisions the domain template (7-9 s); later runs copy it.
    dc = await startSambaDc();
  });
  after(async () => {
    await dc?.close();
  });

  it('a created user binds with a userPrincipalName over LDAPS with the CA pinned', async () => {
    await dc.createUser('harness-user', 'Harness-Pass-1!');
    await bindable(dc.ldapsUrl, dc.upn('harness-user'), 'Harness-Pass-1!', [dc.caPem]);
    await assert.rejects(
      bindable(dc.ldapsUrl, dc.upn('harness-user'), 'Harness-Pass-1!', [otherCa()]),
    );
    await dc.createGroup('harness-group');
    await dc.addToGroup('harness-group', 'harness-user');
    assert.match(
      await dc.objectGUID('harness-user'),
      /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/,
    );
  });

  it('answers binds as recorded in ad-recorded-answers.json', async () => {
    const recorded = JSON.parse(
      readFileSync(join(import.meta.dirname, '../support/ad-recorded-answers.json'), 'utf8'),
    ) as AdAnswer[];
    const live = await recordAdAnswers(dc);
    for (const answer of live) {
      const was = recorded.find((r) => r.case === answer.case);
      assert.ok(was, `no recorded answer for ${answer.case}`);
      assert.equal(answer.resultCode, was.resultCode, answer.case);
      // Same Samba: the same words. Another version may name another DSID; the data code holds.
      if (was.source.split(' on ')[0] === answer.source.split(' on ')[0])
        assert.equal(answer.message, was.message, answer.case);
      else
        assert.equal(/data (\w+)/.exec(answer.message)?.[1], /data (\w+)/.exec(was.message)?.[1]);
    }
  });
});
