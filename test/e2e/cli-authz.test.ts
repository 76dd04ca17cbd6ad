// Authorization administration through the `authlog` CLI against a real node: Talos'
// create_role and create_role_membership, grants, and `authz check` exit codes for scripts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  removeDir,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../support/process.ts';

describe('authlog CLI: roles and checks', () => {
  let server: ServerProcess;
  let dataDir: string;
  const cli = (...args: string[]) =>
    runCli(args, { AUTHLOG_DATA_DIR: dataDir, AUTHLOG_URL: server.url });
  before(async () => {
    dataDir = tempDir('cli-authz');
    server = await startServerProcess({ dataDir, nodeId: 'cli-authz' });
  });
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  it('creates roles, grants, members, and answers checks with exit codes', async () => {
    const setup = await Promise.all([
      cli('principal', 'create', '--id', 'bob', '--brief-name', 'Bob'),
      cli('privilege', 'define', 'report.read', '--description', 'Read reports'),
      cli('resource-type', 'define', 'invoice', '--actions', 'select,approve'),
    ]);
    for (const r of setup) assert.equal(r.code, 0, r.stderr);
    assert.equal((await cli('role', 'create', '--id', 'staff', '--name', 'staff')).code, 0);
    const made = await cli(
      'role',
      'create',
      '--id',
      'approvers',
      '--name',
      'approvers',
      '--parent',
      'staff',
      '--json',
    );
    assert.deepEqual(JSON.parse(made.stdout), { roleId: 'approvers' });
    const grants = await Promise.all([
      cli('role', 'grant', 'staff', '--privilege', 'report.read'),
      cli('role', 'grant', 'approvers', '--resource-type', 'invoice', '--action', 'approve'),
    ]);
    for (const r of grants) assert.equal(r.code, 0, r.stderr);
    assert.equal((await cli('role', 'add-member', 'approvers', 'bob')).code, 0);

    const allowed = await cli('authz', 'check', 'bob', '--privilege', 'report.read');
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(
      allowed.stdout,
      /^allow: role approvers grants privilege report.read \(inherited from staff\)/,
    );
    assert.equal(
      (
        await cli(
          'authz',
          'check',
          'bob',
          '--resource-type',
          'invoice',
          '--action',
          'approve',
          '--object',
          'inv-1',
        )
      ).code,
      0,
    );

    assert.equal((await cli('role', 'revoke', 'approvers', '--privilege', 'report.read')).code, 0);
    const denied = await cli('authz', 'check', 'bob', '--privilege', 'report.read');
    assert.equal(denied.code, 1);
    assert.match(denied.stdout, /^deny: /);

    const cycle = await cli('role', 'update', 'staff', '--parent', 'approvers');
    assert.equal(cycle.code, 1);
    assert.match(cycle.stderr, /ROLE_CYCLE/);
    assert.equal((await cli('role', 'grant', 'staff')).code, 2, 'a grant needs a target');
    const shown = JSON.parse((await cli('role', 'show', 'approvers', '--json')).stdout) as {
      members: string[];
      effectiveParentId: string;
    };
    assert.deepEqual(shown.members, ['bob']);
    assert.equal(shown.effectiveParentId, 'staff');
  });
});
