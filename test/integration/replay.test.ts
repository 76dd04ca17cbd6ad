// Point-in-time replay: a history of grants and revocations made at known (simulated) times, then
// the read model rebuilt as of points between them must answer "who held role X", "who held
// privilege Y" and "what could P do" as they were then; also as of an origin:seq (the causal past
// of one event), through the library and through the real `authlog replay` command.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projections } from '../../projections/index.ts';
import { capabilities, whoHolds } from '../../src/accounting/as-of.ts';
import { parseUntil, replayUntil, type Until } from '../../src/accounting/replay.ts';
import { deactivatePrincipal, registerPrincipal } from '../../src/authn/principals.ts';
import {
  addRoleMember,
  createRole,
  definePrivilege,
  defineResourceType,
  removeRoleMember,
  setGrant,
} from '../../src/authz/commands.ts';
import type { Command } from '../../src/node/command.ts';
import { type AuthlogNode, startNode } from '../../src/node/node.ts';
import { openReadModel } from '../../src/readmodel/database.ts';
import { createReader } from '../../src/readmodel/reader.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { productionIdentity, testFounders, testTrust } from '../support/keys.ts';
import { removeDir, runCli, tempDir } from '../support/process.ts';

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

describe('point-in-time replay', () => {
  const dir = tempDir('replay');
  const storePath = join(dir, 'events.sqlite');
  let node: AuthlogNode;
  let now = T0;
  /** origin:seq of the event that made ann a member. */
  let annJoined = '';

  const run = async <R>(seconds: number, command: Command<R>) => {
    now = T0 + seconds * 1000;
    return node.execute(command, { actor: 'system' });
  };

  before(async () => {
    node = await startNode({
      nodeId: 'site-a',
      store: openSqliteStore({ path: storePath }),
      readModelPath: join(dir, 'readmodel.sqlite'),
      physicalMs: () => now,
      ...testTrust('site-a'),
    });
    await node.ready;
    await run(1, registerPrincipal({ principalId: 'ann', kind: 'person', briefName: 'Ann' }));
    await run(1, registerPrincipal({ principalId: 'bob', kind: 'person', briefName: 'Bob' }));
    await run(1, definePrivilege({ privilege: 'ops.deploy' }));
    await run(1, defineResourceType({ resourceType: 'server', actions: ['restart'] }));
    await run(1, createRole({ roleId: 'ops', name: 'Operators' }));
    await run(1, setGrant({ roleId: 'ops', privilege: 'ops.deploy', effect: 'grant' }));
    await run(
      1,
      setGrant({
        roleId: 'ops',
        resourceType: 'server',
        action: 'restart',
        objectId: 'srv-1',
        effect: 'grant',
      }),
    );
    const joined = await run(100, addRoleMember({ roleId: 'ops', principalId: 'ann' }));
    annJoined = joined.token;
    await run(200, addRoleMember({ roleId: 'ops', principalId: 'bob' }));
    await run(200, removeRoleMember({ roleId: 'ops', principalId: 'ann' }));
    await run(300, setGrant({ roleId: 'ops', privilege: 'ops.deploy', effect: 'revoke' }));
    await run(400, deactivatePrincipal({ principalId: 'bob', reason: 'left' }));
    await node.close();
    await node.store.close();
  });
  after(() => removeDir(dir));

  const asOf = async (until: Until, name: string) => {
    const store = openSqliteStore({ path: storePath });
    const path = join(dir, `${name}.sqlite`);
    try {
      const result = await replayUntil({
        store,
        path,
        until,
        projections,
        founders: testFounders,
        batchSize: 3,
      });
      const rm = openReadModel(path, projections);
      const read = createReader(rm.reader);
      return { result, read, close: () => rm.close() };
    } finally {
      await store.close();
    }
  };

  const holders = (w: ReturnType<typeof whoHolds>) =>
    w.kind === 'role'
      ? w.members.map((m) => m.principalId)
      : w.holders.filter((h) => !h.needsEvidence).map((h) => h.principalId);

  it('answers as the history stood at each time', async () => {
    const expected: [number, string[], string[], string[]][] = [
      // seconds, members of ops, holders of ops.deploy, ann's privileges
      [50, [], [], []],
      [150, ['ann'], ['ann'], ['ops.deploy']],
      [250, ['bob'], ['bob'], []],
      [350, ['bob'], [], []],
      [450, ['bob'], [], []],
    ];
    for (const [seconds, members, deployers, annCan] of expected) {
      const r = await asOf(parseUntil(at(seconds)), `t${seconds}`);
      try {
        assert.deepEqual(holders(whoHolds(r.read, 'role:ops')), members, `role at ${seconds}`);
        assert.deepEqual(
          holders(whoHolds(r.read, 'role:Operators')),
          members,
          `role by name at ${seconds}`,
        );
        assert.deepEqual(
          holders(whoHolds(r.read, 'privilege:ops.deploy')),
          deployers,
          `privilege at ${seconds}`,
        );
        const ann = capabilities(r.read, 'ann');
        assert.deepEqual(
          ann.privileges.map((p) => p.privilege),
          annCan,
          `ann at ${seconds}`,
        );
      } finally {
        r.close();
      }
    }
  });

  it('says what a principal could do, objects included, and that a deactivated one could do nothing', async () => {
    const during = await asOf(parseUntil(at(250)), 'bob-250');
    try {
      const bob = capabilities(during.read, 'bob');
      assert.equal(bob.active, true);
      assert.deepEqual(bob.roles, ['ops']);
      assert.deepEqual(
        bob.privileges.map((p) => p.privilege),
        ['ops.deploy'],
      );
      assert.deepEqual(
        bob.permissions.map((p) => [p.resourceType, p.action, p.all, p.objects]),
        [['server', 'restart', false, ['srv-1']]],
      );
    } finally {
      during.close();
    }
    const later = await asOf(parseUntil(at(450)), 'bob-450');
    try {
      const bob = capabilities(later.read, 'bob');
      assert.equal(bob.active, false);
      assert.deepEqual(bob.permissions, []);
      assert.deepEqual(
        whoHolds(later.read, 'role:ops').kind === 'role' && whoHolds(later.read, 'role:ops'),
        {
          kind: 'role',
          role: 'ops',
          exists: true,
          deleted: false,
          members: [{ principalId: 'bob', active: false }],
          everyone: false,
        },
      );
    } finally {
      later.close();
    }
  });

  it('replays up to an origin:seq: that event and its causal past', async () => {
    const r = await asOf(parseUntil(annJoined), 'seq');
    try {
      assert.deepEqual(holders(whoHolds(r.read, 'role:ops')), ['ann']);
      assert.equal(r.result.events, Number(annJoined.split(':')[1]));
    } finally {
      r.close();
    }
    const store = openSqliteStore({ path: storePath });
    try {
      await assert.rejects(
        replayUntil({
          store,
          path: join(dir, 'none.sqlite'),
          until: parseUntil('site-a:999'),
          projections,
          founders: testFounders,
        }),
        /no event site-a:999/,
      );
    } finally {
      await store.close();
    }
  });

  it('refuses a point that is neither a time with a zone nor origin:seq', () => {
    for (const bad of ['yesterday', '2026-01-01T00:00:00', 'site-a:0', 'Site:1', ''])
      assert.throws(() => parseUntil(bad), /--until/, bad);
  });

  it('`authlog replay` builds the file and answers who held a privilege (real process)', async () => {
    const out = join(dir, 'cli-replay.sqlite');
    const r = await runCli(
      [
        'replay',
        '--until',
        at(150),
        '--who-holds',
        'privilege:ops.deploy',
        '--principal',
        'ann',
        '--out',
        out,
        '--json',
        '--data-dir',
        dir,
        '--node-id',
        'site-a',
      ],
      { AUTHLOG_OPERATOR_TOKEN: 'x'.repeat(40), ...productionIdentity('site-a') },
    );
    assert.equal(r.code, 0, r.stderr);
    const answer = JSON.parse(r.stdout);
    assert.equal(answer.asOf, at(150));
    assert.deepEqual(
      answer.whoHolds.holders.map((h: { principalId: string }) => h.principalId),
      ['ann'],
    );
    assert.deepEqual(
      answer.principal.privileges.map((p: { privilege: string }) => p.privilege),
      ['ops.deploy'],
    );
    const refused = await runCli(['replay', '--until', 'soon', '--data-dir', dir]);
    assert.equal(refused.code, 2);
  });
});
