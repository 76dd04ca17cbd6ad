// The `authlog` management CLI against one real node: every command over HTTP, the exit codes
// scripts rely on (0 ok, 1 refused, 2 usage, 3 unreachable), and that a refused change leaves
// the node as it was. Each CLI call spawns a process, so the calls are few and grouped.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  type CliResult,
  removeDir,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../support/process.ts';

type Principal = {
  id: string;
  briefName: string;
  fullName: string;
  email: string | null;
  phone: string | null;
  active: boolean;
  deleted: boolean;
  identities: { id: string; name: string; status: string; removed: boolean }[];
};

const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });

describe('authlog CLI', () => {
  let server: ServerProcess;
  let dataDir: string;
  let env: Record<string, string>;

  const cli = (...args: string[]) => runCli(args, env);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  };
  const okJson = async <T>(...args: string[]): Promise<T> =>
    JSON.parse(await ok(...args, '--json')) as T;
  const refused = (r: CliResult, exit: number, code?: string) => {
    assert.equal(r.code, exit, `expected exit ${exit}, got ${r.code}:\n${r.stdout}\n${r.stderr}`);
    if (code) assert.match(r.stderr, new RegExp(`^error ${code}: `, 'm'));
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  };

  before(async () => {
    dataDir = tempDir('cli');
    server = await startServerProcess({ dataDir, nodeId: 'cli-a' });
    env = { AUTHLOG_DATA_DIR: dataDir, AUTHLOG_URL: server.url };
  });

  after(async () => {
    await server?.stop();
    removeDir(dataDir);
  });

  it('manages a principal from creation to deletion', async () => {
    const created = await okJson<{ principalId: string; identityId: string }>(
      'principal',
      'create',
      '--brief-name',
      'Ann',
      '--full-name',
      'Ann Example',
      '--email',
      'ann@example.org',
      '--identity',
      'ann',
    );
    const id = created.principalId;
    assert.ok(created.identityId);

    const shown = await ok('principal', 'show', id);
    assert.match(shown, /^brief name\s+Ann$/m);
    assert.match(shown, /^email\s+ann@example\.org \(held\)$/m);
    assert.match(shown, new RegExp(`^${created.identityId}\\s+internal\\s+ann\\s+held$`, 'm'));

    const listed = await okJson<Principal[]>('principal', 'list');
    assert.ok(Array.isArray(listed));
    assert.equal(listed.find((p) => p.id === id)?.email, 'ann@example.org');

    assert.match(
      await ok('principal', 'update', id, '--brief-name', 'Annie', '--no-email'),
      /^changed: briefName, email$/m,
    );
    await ok('principal', 'deactivate', id, '--reason', 'left the team');
    let p = await okJson<Principal>('principal', 'show', id);
    assert.equal(p.briefName, 'Annie');
    assert.equal(p.email, null);
    assert.equal(p.active, false);

    await ok('principal', 'activate', id);
    const second = await okJson<{ identityId: string }>('identity', 'add', id, 'ann.ex');
    p = await okJson<Principal>('principal', 'show', id);
    assert.equal(p.active, true);
    assert.deepEqual(p.identities.map((i) => i.name).sort(), ['ann', 'ann.ex']);

    await ok('identity', 'remove', second.identityId);
    await ok('principal', 'delete', id);
    p = await okJson<Principal>('principal', 'show', id);
    assert.equal(p.deleted, true);
    assert.equal(p.identities.find((i) => i.id === second.identityId)?.removed, true);
  });

  it('refuses a taken identity name and changes nothing', async () => {
    await ok('principal', 'create', '--brief-name', 'Bo', '--id', 'bo', '--identity', 'bo');
    const [add, create] = await Promise.all([
      cli('identity', 'add', 'bo', 'admin'),
      // Case-folded: BO is the same name as bo.
      cli('principal', 'create', '--brief-name', 'Other', '--id', 'other', '--identity', 'BO'),
    ]);
    refused(add, 1, 'IDENTITY_NAME_TAKEN');
    refused(create, 1, 'IDENTITY_NAME_TAKEN');
    const [bo, other] = await Promise.all([
      okJson<Principal>('principal', 'show', 'bo'),
      cli('principal', 'show', 'other'),
    ]);
    assert.deepEqual(
      bo.identities.map((i) => i.name),
      ['bo'],
    );
    // The principal and its identity are one atomic change: neither was recorded.
    refused(other, 1, 'PRINCIPAL_NOT_FOUND');
  });

  it('maps refusals, bad input and an unreachable node to exit codes', async () => {
    const port = await closedPort();
    const [control, huge, missing, noChange, badLimit, badId, wrongToken, unreachable] =
      await Promise.all([
        cli('principal', 'create', '--brief-name', 'evil\u001b[2J\u202ename'),
        cli('principal', 'create', '--brief-name', 'x'.repeat(5000)),
        cli('principal', 'create', '--email', 'a@example.org'),
        cli('principal', 'update', 'bo'),
        cli('principal', 'list', '--limit', 'ten'),
        cli('principal', 'show', '../status'),
        runCli(['status'], { ...env, AUTHLOG_OPERATOR_TOKEN: 'wrong-token-wrong-token-wrong-tok' }),
        cli('status', '--url', `http://127.0.0.1:${port}`),
      ]);
    refused(control, 1, 'VALIDATION_FAILED');
    refused(huge, 1, 'VALIDATION_FAILED');
    refused(missing, 2);
    assert.match(missing.stderr, /--brief-name/);
    refused(noChange, 2);
    refused(badLimit, 2);
    refused(badId, 2);
    refused(wrongToken, 1, 'UNAUTHENTICATED');
    refused(unreachable, 3);
    assert.match(unreachable.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
    for (const r of [control, huge, wrongToken, unreachable]) {
      assert.equal(r.stdout, '');
      assert.ok(!r.stderr.includes(server.token), 'the token is never printed');
      assert.ok(!r.stderr.includes('wrong-token'), 'the token is never printed');
    }
  });

  it('pages through every principal with --all', async () => {
    await Promise.all(
      ['p1', 'p2', 'p3'].map((n) => ok('principal', 'create', '--brief-name', n, '--id', n)),
    );
    const [all, oneBig, firstPage] = await Promise.all([
      okJson<Principal[]>('principal', 'list', '--all', '--limit', '2'),
      okJson<Principal[]>('principal', 'list', '--limit', '500'),
      cli('principal', 'list', '--limit', '2'),
    ]);
    assert.ok(all.length > 4);
    assert.deepEqual(
      all.map((p) => p.id),
      oneBig.map((p) => p.id),
    );
    assert.ok(['p1', 'p2', 'p3', 'bo'].every((id) => all.some((p) => p.id === id)));
    // Human output: a header and two aligned rows, and a hint where the next page starts.
    const lines = firstPage.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^ID\s+BRIEF NAME\s+EMAIL\s+ACTIVE\s+DELETED$/);
    const column = lines[0]!.indexOf('BRIEF NAME');
    for (const row of lines.slice(1)) assert.match(row.slice(0, column + 1), /^\S+ +\S$/);
    assert.match(firstPage.stderr, /--after /);
  });

  it('reports status, directories and conflicts', async () => {
    const [status, human, defined, conflicts] = await Promise.all([
      okJson<{ node: string; ready: boolean; applied: Record<string, string>; digest: string }>(
        'status',
      ),
      ok('status'),
      okJson<{ directoryId: string }>('directory', 'define', 'partners', '--id', 'partners'),
      okJson<unknown[]>('conflicts'),
    ]);
    assert.equal(status.node, 'cli-a');
    assert.equal(status.ready, true);
    assert.match(status.applied['cli-a'] ?? '', /^[1-9][0-9]*$/);
    assert.match(status.digest, /^[0-9a-f]{64}$/);
    assert.match(human, /^applied\s+cli-a:\d+$/m);
    assert.match(human, /^digest\s+[0-9a-f]{64}$/m);
    assert.equal(defined.directoryId, 'partners');
    assert.deepEqual(conflicts, []);
    const directories = await ok('directory', 'list');
    assert.match(directories, /^partners\s+partners\s+held/m);
  });

  it('verify takes the operator token like every other command (the data folder, or the variable)', async () => {
    const peers = ['--peer', server.url, '--peer', server.url];
    const fromFolder = await okJson<{ verdict: string; nodes: { node: string }[] }>(
      'verify',
      ...peers,
    );
    assert.equal(fromFolder.verdict, 'OK');
    assert.deepEqual(
      fromFolder.nodes.map((n) => n.node),
      ['cli-a', 'cli-a'],
    );
    const fromEnv = await runCli(['verify', ...peers], {
      AUTHLOG_OPERATOR_TOKEN: server.token,
      AUTHLOG_DATA_DIR: '/nonexistent',
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    const none = await runCli(['verify', ...peers], { AUTHLOG_DATA_DIR: '/nonexistent' });
    refused(none, 2);
    assert.match(none.stderr, /no operator token: set AUTHLOG_OPERATOR_TOKEN/);
  });
});
