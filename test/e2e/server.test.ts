// `authlog serve` as users start it: answers /health within seconds, creates one administrator
// on the first start only, refuses /v1 without the operator token, and in production refuses to
// start without configured secrets.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { removeDir, runCli, startServerProcess, tempDir } from '../support/process.ts';

describe('server process', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));

  it('answers /health, bootstraps an administrator once, and locks /v1 behind the token', async () => {
    const dir = tempDir('server');
    dirs.push(dir);
    const started = Date.now();
    let server = await startServerProcess({ dataDir: dir });
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(((await health.json()) as { status: string }).status, 'ok');
    console.log(`# first start answered /health after ${Date.now() - started} ms`);
    assert.match(
      server.output(),
      /Created the administrator \(role administrators\): principal \S+, identity "admin"/,
    );
    assert.ok(!server.output().includes(server.token), 'the token was printed');

    const anonymous = await fetch(`${server.url}/v1/principals`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="authlog"');

    const list = await fetch(`${server.url}/v1/principals`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const names = ((await list.json()) as { items: { briefName: string }[] }).items
      .map((p) => p.briefName)
      .sort();
    assert.deepEqual(names, ['admin', 'anonymous']);
    await server.stop();

    server = await startServerProcess({ dataDir: dir });
    assert.doesNotMatch(server.output(), /Created the administrator/);
    await server.stop();
  });

  it('production mode without secrets exits with a message naming what is missing', async () => {
    const dir = tempDir('server-prod');
    dirs.push(dir);
    const r = await runCli(['serve', '--port', '0'], {
      AUTHLOG_DATA_DIR: dir,
      AUTHLOG_MODE: 'production',
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /AUTHLOG_OPERATOR_TOKEN/);
    assert.match(r.stderr, /AUTHLOG_NODE_ID/);
  });
});
