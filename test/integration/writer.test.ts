// The writer queue: gap-free per-origin seqs, HLC increasing along them, deps covering the
// origin's own past, group commit under load, one bad command not failing its batch, and two
// processes writing as the same node failing loudly instead of forking the log.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { AppError } from '../../src/errors.ts';
import { fromRecorded, originStream } from '../../src/events/envelope.ts';
import { startNode } from '../../src/node/node.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { startMemoryNode, stopNode } from '../support/in-process.ts';
import { testTrust } from '../support/keys.ts';
import { removeDir, tempDir } from '../support/process.ts';

const register = (id: string, name = id) =>
  registerPrincipal({
    principalId: id,
    kind: 'person',
    briefName: id,
    identity: { identityId: `i-${id}`, name },
  });

describe('writer queue', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));

  it('stamps gap-free seqs with increasing HLCs and group-commits concurrent commands', async () => {
    const node = await startMemoryNode('w1');
    try {
      const n = 300;
      const results = await Promise.allSettled(
        Array.from({ length: n }, (_, i) =>
          node.execute(register(`p${i}`, i === 7 ? 'p3' : `p${i}`), { actor: 'system' }),
        ),
      );
      // p7 asks for p3's name: refused alone, its batch-mates unaffected.
      const refused = results.filter((r) => r.status === 'rejected');
      assert.equal(refused.length, 1);
      assert.ok(
        refused[0]?.status === 'rejected' && refused[0].reason instanceof AppError,
        'typed refusal',
      );
      const events = (await node.store.readStream(originStream('w1'))).map((r) => fromRecorded(r));
      assert.equal(events.length, 2 * (n - 1));
      events.forEach((e, i) => {
        assert.equal(e.seq, BigInt(i + 1));
        assert.equal(e.deps.w1 ?? 0n, e.seq - 1n);
        if (i > 0) assert.ok(e.hlc > events[i - 1]!.hlc, `hlc not increasing at ${i}`);
      });
      const { batches, commands } = node.writer.stats;
      assert.equal(commands, n);
      assert.ok(batches < n / 2, `no group commit: ${batches} batches for ${n} commands`);
    } finally {
      await stopNode(node);
    }
  });

  it('a second process writing as the same node fails loudly and never forks the log', async () => {
    const dir = tempDir('writer');
    dirs.push(dir);
    const path = join(dir, 'events.sqlite');
    const first = await startNode({
      nodeId: 'twin',
      store: openSqliteStore({ path }),
      readModelPath: join(dir, 'rm1.sqlite'),
      ...testTrust('twin'),
    });
    // The twin polls rarely, so it decides without having seen the first one's events — the
    // situation of two processes that each believe they are the only writer of the origin.
    const second = await startNode({
      nodeId: 'twin',
      store: openSqliteStore({ path, pollIntervalMs: 60_000 }),
      readModelPath: join(dir, 'rm2.sqlite'),
      ...testTrust('twin'),
    });
    await Promise.all([first.ready, second.ready]);
    try {
      await first.execute(register('a'), { actor: 'system' });
      // The second node decided against a state that lacks `a` and appends at revision 0 again.
      await assert.rejects(
        second.execute(register('b'), { actor: 'system' }),
        (e: unknown) => e instanceof AppError && e.code === 'NODE_CONFLICT',
      );
      await assert.rejects(
        second.execute(register('c'), { actor: 'system' }),
        (e: unknown) => e instanceof AppError && e.code === 'NODE_CONFLICT',
      );
      const stored = await first.store.readStream(originStream('twin'));
      assert.deepEqual(
        stored.map((r) => r.revision),
        [0n, 1n],
      );
      assert.equal(second.status().writer.failed !== null, true);
    } finally {
      for (const n of [first, second]) {
        await n.close();
        await n.store.close();
      }
    }
  });
});
