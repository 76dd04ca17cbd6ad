// Registration against a real node process (`authlog serve`, AUTHLOG_REGISTRATION=open): the
// verification mail lands in `<dataDir>/outbox` (folder 0700, file 0600), the token in it
// verifies the address once, and the token is nowhere else: not in the node's output at debug
// level, not in any file of the data folder but the mail itself (event store, read model).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { removeDir, type ServerProcess, startServerProcess, tempDir } from '../support/process.ts';

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );

describe('registration with a real node: the outbox', () => {
  let server: ServerProcess;
  let dataDir: string;
  before(async () => {
    dataDir = tempDir('self-service');
    server = await startServerProcess({
      dataDir,
      nodeId: 'self-service',
      env: { AUTHLOG_REGISTRATION: 'open', AUTHLOG_LOG_LEVEL: 'debug' },
    });
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  it('mails the token to <dataDir>/outbox and nowhere else', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const r = await post('/v1/auth/register', {
      email: 'pat@example.org',
      briefName: 'Pat',
      password: 'a long enough passphrase',
    });
    assert.equal(r.status, 202, await r.text());
    const outbox = join(dataDir, 'outbox');
    let files: string[] = [];
    for (let i = 0; i < 500 && files.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      try {
        files = readdirSync(outbox).filter((f) => f.endsWith('.json'));
      } catch {
        files = [];
      }
    }
    assert.equal(files.length, 1, 'one mail in the outbox');
    assert.equal(statSync(outbox).mode & 0o777, 0o700);
    const file = join(outbox, files[0]!);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const mail = JSON.parse(readFileSync(file, 'utf8')) as { to: string; token: string };
    assert.equal(mail.to, 'pat@example.org');
    const verified = await post('/v1/auth/verify-email', { token: mail.token });
    assert.equal(verified.status, 200, await verified.text());
    const again = await post('/v1/auth/verify-email', { token: mail.token });
    assert.equal(again.status, 400);
    assert.ok(!server.output().includes(mail.token), 'the token is not in the output');
    for (const f of filesUnder(dataDir).filter((f) => f !== file))
      assert.ok(!readFileSync(f).includes(mail.token), `the token is in ${f}`);
  });
});
