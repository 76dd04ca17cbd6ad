// Authentication through the `authlog` CLI against a real node process: the bootstrap
// administrator gets a password (`credential set-password`, read from stdin), logs in over HTTP,
// is locked out by failures and unlocked (`principal lockout|unlock`), and an administrator lists
// and ends its sessions (`session list|end-all`) and sets a policy (`policy set|list`).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  removeDir,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../support/process.ts';

const PASSWORD = 'the administrator passphrase';

describe('authlog CLI: passwords, lockout, sessions, policies', () => {
  let server: ServerProcess;
  let dataDir: string;
  let admin = '';
  const cli = (args: string[], input?: string) =>
    runCli(args, { AUTHLOG_DATA_DIR: dataDir, AUTHLOG_URL: server.url }, input);
  const login = (password: string) =>
    fetch(`${server.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: 'admin', password, transport: 'bearer' }),
    });
  before(async () => {
    dataDir = tempDir('cli-auth');
    server = await startServerProcess({
      dataDir,
      nodeId: 'cli-auth',
      env: { AUTHLOG_LOCKOUT_THRESHOLD: '2', AUTHLOG_AUTH_RATE_LIMIT: '1000/1m' },
    });
    const list = await cli(['principal', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    admin = (JSON.parse(list.stdout) as { id: string; briefName: string }[]).find(
      (p) => p.briefName === 'admin',
    )!.id;
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  it('sets the bootstrap administrator a password from stdin; it logs in', async () => {
    const weak = await cli(['credential', 'set-password', admin], 'password123\n');
    assert.equal(weak.code, 1, 'a common password is refused');
    assert.match(weak.stderr, /commonly used/);
    const set = await cli(['credential', 'set-password', admin], `${PASSWORD}\n`);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^password set for /);
    const r = await login(PASSWORD);
    assert.equal(r.status, 200, await r.text());
  });

  it('shows a lockout and unlocks it', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await login('wrong wrong wrong')).status, 401);
    assert.equal((await login(PASSWORD)).status, 401, 'locked');
    const state = await cli(['principal', 'lockout', admin, '--json']);
    assert.equal(state.code, 0, state.stderr);
    assert.equal(JSON.parse(state.stdout).failures, 2);
    const unlock = await cli(['principal', 'unlock', admin]);
    assert.equal(unlock.code, 0, unlock.stderr);
    assert.equal((await login(PASSWORD)).status, 200);
  });

  it('lists and ends the sessions of a principal, and sets a policy', async () => {
    const listed = await cli(['session', 'list', admin, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).items.length >= 1);
    const ended = await cli(['session', 'end-all', admin]);
    assert.equal(ended.code, 0, ended.stderr);
    const after = await cli(['session', 'list', admin, '--json']);
    assert.deepEqual(JSON.parse(after.stdout).items, []);
    const policy = await cli(['policy', 'set', admin, '--require', 'knowledge,ownership']);
    assert.equal(policy.code, 0, policy.stderr);
    const r = await login(PASSWORD);
    const body = (await r.json()) as { complete: boolean; missing: string[] };
    assert.deepEqual([body.complete, body.missing], [false, ['ownership']]);
    const bad = await cli(['policy', 'set', admin, '--require', 'telepathy']);
    assert.equal(bad.code, 2, 'usage error');
  });
});
