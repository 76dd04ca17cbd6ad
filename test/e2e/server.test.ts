// `authlog serve` as users start it: answers /health within seconds, creates one administrator
// on the first start only, refuses /v1 without the operator token, keeps the node id its data
// folder first ran under, and in production refuses to start without configured secrets.
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

  // Threat: a data folder restarted under another node id writes as a new origin, silently
  // (issue 14, row 12). The folder remembers the id it first ran under.
  it('a data folder keeps its node id: another one exits 2, none starts as the remembered one', async () => {
    const dir = tempDir('server-node-id');
    dirs.push(dir);
    let server = await startServerProcess({ dataDir: dir, nodeId: 'acc-a' });
    await server.stop();
    const other = await runCli(['serve', '--port', '0'], {
      AUTHLOG_DATA_DIR: dir,
      AUTHLOG_NODE_ID: 'acc-b',
    });
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /AUTHLOG_NODE_ID is "acc-b" but the data folder .* node "acc-a"/);
    assert.doesNotMatch(other.stderr, /at .*\.ts:\d+/, 'no stack trace');
    server = await startServerProcess({ dataDir: dir });
    assert.match(server.output(), /^authlog node acc-a /m);
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
