// Threat: a client secret spread to every site through a replicated event, or printed back. The
// operator's social-login tools through the `authlog` CLI against a real node process:
// `directory define-oidc` from a settings file (Google's preset filling what it leaves out), a
// settings file naming a secret refused before anything is sent (exit 2, nothing recorded), and
// `directory set-oidc` replacing the settings. The node takes the client secret from its own
// environment (AUTHLOG_OIDC_<ID>_CLIENT_SECRET_FILE); it appears in no event and no output.
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

const SECRET = 'client-secret-that-stays-on-this-node';

describe('authlog directory define-oidc | set-oidc', () => {
  let server: ServerProcess;
  let dataDir: string;
  const cli = (args: string[]) =>
    runCli(args, { AUTHLOG_DATA_DIR: dataDir, AUTHLOG_URL: server.url });
  const settingsFile = (name: string, settings: object) => {
    const file = join(dataDir, name);
    writeFileSync(file, JSON.stringify(settings));
    return file;
  };
  /** The whole event log, read by `authlog events tail` from the store. */
  const events = async () => {
    const r = await cli(['events', 'tail', '--json', '--lines', '10000']);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  before(async () => {
    dataDir = tempDir('cli-oidc');
    const secret = join(dataDir, 'google-secret');
    writeFileSync(secret, `${SECRET}\n`, { mode: 0o600 });
    server = await startServerProcess({
      dataDir,
      nodeId: 'cli-oidc',
      env: { AUTHLOG_OIDC_GOOGLE_CLIENT_SECRET_FILE: secret },
    });
  });
  after(async () => {
    await server?.stop();
    if (dataDir) removeDir(dataDir);
  });

  const google = {
    flavor: 'google',
    clientId: 'authlog-test.apps.example',
    redirectUris: ['https://login.example.org/v1/auth/oidc/google/callback'],
    identityDirectoryId: 'internal',
    registerOnFirstLogin: false,
    linkVerifiedEmail: false,
  };

  it('refuses a settings file that names a secret, before sending anything', async () => {
    const before = await events();
    const r = await cli([
      'directory',
      'define-oidc',
      'google',
      '--settings',
      settingsFile('with-secret.json', { ...google, clientSecret: SECRET }),
    ]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /AUTHLOG_OIDC_<ID>_CLIENT_SECRET/);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(SECRET), 'the secret echoed back');
    assert.equal(await events(), before, 'something was recorded');
  });

  it('defines a Google directory from its preset and replaces its settings', async () => {
    const defined = await cli([
      'directory',
      'define-oidc',
      'google',
      '--settings',
      settingsFile('google.json', google),
    ]);
    assert.equal(defined.code, 0, defined.stderr);
    assert.match(defined.stdout, /\/v1\/auth\/oidc\/google\/start/);
    const changed = await cli([
      'directory',
      'set-oidc',
      'google',
      '--settings',
      settingsFile('google2.json', { ...google, linkVerifiedEmail: true }),
    ]);
    assert.equal(changed.code, 0, changed.stderr);
    const log = await events();
    assert.match(log, /"issuer":"https:\/\/accounts\.google\.com"/, 'the preset filled the issuer');
    assert.match(log, /"linkVerifiedEmail":true/);
    assert.ok(!log.includes(SECRET), 'the client secret is in an event');
    // A flavor that does not exist: the node's clear error, exit 1.
    const bad = await cli([
      'directory',
      'define-oidc',
      'nope',
      '--settings',
      settingsFile('bad.json', { ...google, flavor: 'myspace' }),
    ]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stderr, /flavor/);
  });
});
