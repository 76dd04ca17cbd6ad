// The operator's LDAP tools through the `authlog` CLI against a real node process and a real
// slapd: `directory define-ldap` from a settings file, `directory test` (connect, service bind,
// search, user bind with the password on stdin), and a login over HTTP through the directory. The
// node takes the service account's password from its own environment (AUTHLOG_LDAP_<ID>_
// BIND_PASSWORD_FILE): the settings the CLI sends carry no secret.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  removeDir,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../support/process.ts';
import { type Slapd, slapdMissing, startSlapd } from '../support/slapd.ts';

const skip = slapdMissing();
if (skip) console.log(`# skipped: ${skip}`);

describe('authlog directory define-ldap | test, against slapd', { skip }, () => {
  let slapd: Slapd;
  let server: ServerProcess;
  let dataDir: string;
  const cli = (args: string[], input?: string) =>
    runCli(args, { AUTHLOG_DATA_DIR: dataDir, AUTHLOG_URL: server.url }, input);

  before(async () => {
    slapd = await startSlapd();
    dataDir = tempDir('cli-directory');
    const secret = join(dataDir, 'ldap-corp-password');
    writeFileSync(secret, `${slapd.servicePassword}\n`, { mode: 0o600 });
    server = await startServerProcess({
      dataDir,
      nodeId: 'cli-directory',
      env: { AUTHLOG_LDAP_CORP_BIND_PASSWORD_FILE: secret },
    });
  });
  after(async () => {
    await server?.stop();
    await slapd?.close();
    if (dataDir) removeDir(dataDir);
  });

  it('defines a directory from a settings file, tests it step by step, and logs a user in', async () => {
    const settings = join(dataDir, 'corp.json');
    writeFileSync(
      settings,
      JSON.stringify({
        flavor: 'openldap',
        urls: [slapd.ldapsUrl],
        caPem: slapd.caPem,
        bindDn: slapd.serviceDn,
        baseDn: slapd.peopleDn,
        identityDirectoryId: 'internal',
      }),
    );
    const defined = await cli(['directory', 'define-ldap', 'corp', '--settings', settings]);
    assert.equal(defined.code, 0, defined.stderr);
    assert.match(defined.stdout, /corp/);
    assert.ok(!defined.stdout.includes(slapd.servicePassword));

    const ok = await cli(
      ['directory', 'test', 'corp', '--identity', 'alice', '--password-stdin'],
      'alice-ldap-pw\n',
    );
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    for (const step of ['connect', 'service-bind', 'search', 'user-bind'])
      assert.match(ok.stdout, new RegExp(`${step}\\s+ok`));

    const bad = await cli(
      ['directory', 'test', 'corp', '--identity', 'alice', '--password-stdin'],
      'wrong\n',
    );
    assert.equal(bad.code, 1, 'a failed step is exit 1');
    assert.match(bad.stdout, /user-bind\s+FAILED\s+refused: invalid-credentials/);

    const login = await fetch(`${server.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: 'alice', password: 'alice-ldap-pw', transport: 'bearer' }),
    });
    assert.equal(login.status, 200, await login.text());
  });

  it('names a settings file that is not one JSON object, and sends nothing', async () => {
    const broken = join(dataDir, 'broken.json');
    writeFileSync(broken, '{"urls": [');
    const res = await cli(['directory', 'define-ldap', 'other', '--settings', broken]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /--settings/);
  });
});
