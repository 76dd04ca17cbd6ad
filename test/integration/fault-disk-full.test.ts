// Fault: the disk fills. The embedded store's append failed with SQLITE_FULL, or the read-model
// commit after an append that had landed did, and the writer took the next batch's stale
// expected revision for another process writing as this node (NODE_CONFLICT), refusing every
// write until a restart even after space was freed. Now a full disk is STORE_FULL (507), saying
// whether the log holds the write (`recorded`); the writer never stops for it, the next command
// after space returns succeeds by itself, no acknowledged write is lost, nothing answered
// `recorded: false` is in the log, and what the log holds reaches the read model.
//
// Two ways: a real tmpfs holding the data folder (needs root and mount; skipped with the reason
// printed otherwise), filled by a file, with either the store or the read model hitting the full
// disk first; and, always, SQLite's own `max_page_count` cap on the read model, in-process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { getPrincipal } from '../../projections/principals.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { AppError } from '../../src/errors.ts';
import { fromRecorded, originStream } from '../../src/events/envelope.ts';
import { buildApp } from '../../src/http/app.ts';
import { type AuthlogNode, startNode } from '../../src/node/node.ts';
import type { Receipt } from '../../src/node/writer.ts';
import type { EventStore } from '../../src/store/port.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { auth, TOKEN, UNTHROTTLED } from '../support/app.ts';
import { startMemoryNode, stopNode } from '../support/in-process.ts';
import { testTrust } from '../support/keys.ts';
import { removeDir, tempDir } from '../support/process.ts';

const register = (id: string) =>
  registerPrincipal({
    principalId: id,
    kind: 'person',
    briefName: `${id} ${'x'.repeat(150)}`,
    identity: { identityId: `i-${id}`, name: id },
  });

type Outcome =
  | { readonly id: string; readonly receipt: Receipt<unknown> }
  | { readonly id: string; readonly refused: AppError };

const attempt = async (node: AuthlogNode, id: string): Promise<Outcome> => {
  try {
    return { id, receipt: await node.execute(register(id), { actor: 'system' }) };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { id, refused: err };
  }
};

const ownEventIds = async (store: EventStore, node: string) =>
  (await store.readStream(originStream(node))).map((r) => r.id);

/** Fills the file system holding `dir` to the last byte. */
const fill = (dir: string) => {
  const fd = openSync(join(dir, 'filler'), 'w');
  try {
    for (const size of [1 << 16, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size, 0x5a);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
};

/** Mounts a small tmpfs on `dir`, or says why it cannot. */
const mountTmpfs = (dir: string): string | undefined => {
  if (process.platform !== 'linux') return `tmpfs needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `mount -t tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
};

const skipWith = (t: TestContext, reason: string) => {
  console.log(`skipped "${t.name}": ${reason}`);
  t.skip(reason);
};

/** Runs `fn` with a node whose data folder is on a fresh 8 MiB tmpfs, then restarts it from the
 * same folder (off the full disk) and hands the restarted node to `check`. */
const onTmpfs = async (
  t: TestContext,
  fn: (ctx: { dir: string; node: AuthlogNode; storePath: string; rmPath: string }) => Promise<void>,
  check: (node: AuthlogNode) => Promise<void>,
) => {
  const dir = tempDir('fault-disk-full');
  const data = join(dir, 'data');
  mkdirSync(data);
  const reason = mountTmpfs(data);
  if (reason !== undefined) {
    removeDir(dir);
    skipWith(t, reason);
    return;
  }
  try {
    const storePath = join(data, 'events.sqlite');
    const rmPath = join(data, 'rm.sqlite');
    const store = openSqliteStore({ path: storePath });
    const node = await startNode({
      nodeId: 'n1',
      store,
      readModelPath: rmPath,
      ...testTrust('n1'),
    });
    try {
      await node.ready;
      await fn({ dir: data, node, storePath, rmPath });
    } finally {
      rmSync(join(data, 'filler'), { force: true });
      await node.close();
      await store.close();
    }
    const store2 = openSqliteStore({ path: storePath });
    const again = await startNode({
      nodeId: 'n1',
      store: store2,
      readModelPath: rmPath,
      ...testTrust('n1'),
    });
    try {
      await again.ready;
      await check(again);
    } finally {
      await again.close();
      await store2.close();
    }
  } finally {
    execFileSync('umount', [data]);
    removeDir(dir);
  }
};

describe('a full disk', () => {
  it('the store fills first: STORE_FULL, nothing written, and the next command after space returns succeeds', async (t) => {
    const acknowledged: string[] = [];
    let digest = '';
    await onTmpfs(
      t,
      async ({ dir, node, storePath }) => {
        for (let i = 0; i < 20; i++) {
          const o = await attempt(node, `a${i}`);
          assert.ok('receipt' in o, `a${i} refused before the disk filled`);
          acknowledged.push(o.id);
        }
        // The event log's WAL emptied: its next append must grow a file on the full disk.
        const side = new Database(storePath);
        assert.equal(side.pragma('wal_checkpoint(TRUNCATE)', { simple: true }), 0);
        side.close();
        fill(dir);
        const before = { digest: node.digest(), events: await ownEventIds(node.store, 'n1') };

        for (let i = 0; i < 5; i++) {
          const o = await attempt(node, `b${i}`);
          assert.ok('refused' in o, `b${i} acknowledged on a full disk`);
          assert.equal(o.refused.code, 'STORE_FULL', String(o.refused));
          assert.equal(o.refused.extensions?.recorded, false);
        }
        const http = buildApp({ node, operatorToken: TOKEN, logger: false, edge: UNTHROTTLED });
        try {
          const r = await http.inject({
            method: 'POST',
            url: '/v1/principals',
            headers: auth,
            payload: { principalId: 'h1', briefName: 'H 1' },
          });
          assert.equal(r.statusCode, 507, r.body);
          assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
          assert.equal(r.json().code, 'STORE_FULL');
          assert.equal(r.json().recorded, false);
        } finally {
          await http.close();
        }
        assert.equal(node.status().writer.failed, null);
        assert.equal(node.digest(), before.digest);
        assert.deepEqual(await ownEventIds(node.store, 'n1'), before.events);

        rmSync(join(dir, 'filler'));
        const o = await attempt(node, 'c0');
        assert.ok(
          'receipt' in o,
          `c0 refused after space returned: ${'refused' in o && o.refused}`,
        );
        acknowledged.push(o.id);
        digest = node.digest();
      },
      async (node) => {
        assert.equal(node.digest(), digest);
        for (const id of acknowledged) assert.ok(getPrincipal(node.read, id), `${id} lost`);
        for (const id of ['b0', 'b1', 'b2', 'b3', 'b4', 'h1'])
          assert.equal(getPrincipal(node.read, id), undefined, `${id} written after STORE_FULL`);
      },
    );
  });

  it('the read model fills after the append landed: STORE_FULL recorded, applied once space returns, never NODE_CONFLICT', async (t) => {
    const acknowledged: string[] = [];
    let digest = '';
    await onTmpfs(
      t,
      async ({ dir, node, storePath }) => {
        for (let i = 0; i < 20; i++) {
          const o = await attempt(node, `a${i}`);
          assert.ok('receipt' in o, `a${i} refused before the disk filled`);
          acknowledged.push(o.id);
        }
        // The event log's next append rewrites its WAL from the start (no new space needed);
        // the read model's WAL is emptied, so its next commit must grow a file.
        const side = new Database(storePath);
        assert.equal(side.pragma('wal_checkpoint(RESTART)', { simple: true }), 0);
        side.close();
        node.readModel.writer.pragma('wal_checkpoint(TRUNCATE)');
        fill(dir);
        const before = { digest: node.digest(), events: await ownEventIds(node.store, 'n1') };

        const first = await attempt(node, 'r0');
        assert.ok('refused' in first, 'r0 acknowledged on a full disk');
        assert.equal(first.refused.code, 'STORE_FULL', String(first.refused));
        assert.equal(first.refused.extensions?.recorded, true);
        const recorded = await ownEventIds(node.store, 'n1');
        assert.equal(recorded.length, before.events.length + 2, 'r0 is in the log');
        for (let i = 1; i < 5; i++) {
          const o = await attempt(node, `r${i}`);
          assert.ok('refused' in o, `r${i} acknowledged on a full disk`);
          assert.equal(o.refused.code, 'STORE_FULL', String(o.refused));
          assert.equal(o.refused.extensions?.recorded, false);
        }
        assert.equal(node.status().writer.failed, null);
        assert.equal(node.digest(), before.digest);
        assert.deepEqual(await ownEventIds(node.store, 'n1'), recorded);

        rmSync(join(dir, 'filler'));
        const o = await attempt(node, 'c0');
        assert.ok(
          'receipt' in o,
          `c0 refused after space returned: ${'refused' in o && o.refused}`,
        );
        acknowledged.push('r0', o.id);
        assert.ok(getPrincipal(node.read, 'r0'), 'the recorded write took effect');
        digest = node.digest();
      },
      async (node) => {
        assert.equal(node.digest(), digest);
        for (const id of acknowledged) assert.ok(getPrincipal(node.read, id), `${id} lost`);
        for (const id of ['r1', 'r2', 'r3', 'r4'])
          assert.equal(getPrincipal(node.read, id), undefined, `${id} written after STORE_FULL`);
      },
    );
  });
});

describe('a read model at its page limit (max_page_count, in-process)', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));

  it('answers STORE_FULL, writes nothing, holds events of other origins, and resumes when raised', async () => {
    const dir = tempDir('fault-page-limit');
    dirs.push(dir);
    const storePath = join(dir, 'events.sqlite');
    const rmPath = join(dir, 'rm.sqlite');
    const store = openSqliteStore({ path: storePath });
    const node = await startNode({
      nodeId: 'n1',
      store,
      readModelPath: rmPath,
      ...testTrust('n1'),
    });
    const other = await startMemoryNode('n2');
    const acknowledged: string[] = [];
    let digest = '';
    try {
      await node.ready;
      for (let i = 0; i < 5; i++) {
        const o = await attempt(node, `a${i}`);
        assert.ok('receipt' in o);
        acknowledged.push(o.id);
      }
      const writer = node.readModel.writer;
      writer.pragma(`max_page_count = ${writer.pragma('page_count', { simple: true })}`);
      // Commands fit into the pages there are until one needs a new page.
      let refused: AppError | undefined;
      for (let i = 0; refused === undefined && i < 1000; i++) {
        const o = await attempt(node, `f${i}`);
        if ('receipt' in o) acknowledged.push(o.id);
        else refused = o.refused;
      }
      assert.ok(refused, 'the page limit was never reached');
      assert.equal(refused.code, 'STORE_FULL', String(refused));
      assert.equal(refused.extensions?.recorded, false);
      const before = { digest: node.digest(), events: await ownEventIds(store, 'n1') };
      assert.equal(before.events.length, acknowledged.length * 2, 'only acknowledged writes');

      const http = buildApp({ node, operatorToken: TOKEN, logger: false, edge: UNTHROTTLED });
      try {
        const r = await http.inject({
          method: 'POST',
          url: '/v1/principals',
          headers: auth,
          payload: { principalId: 'h1', briefName: 'H 1' },
        });
        assert.equal(r.statusCode, 507, r.body);
        assert.equal(r.json().code, 'STORE_FULL');
        const s = await http.inject({ url: '/v1/status?digest=true', headers: auth });
        assert.equal(s.statusCode, 200, s.body);
        assert.equal(s.json().writer.failed, null);
        assert.equal(s.json().digest, before.digest);
      } finally {
        await http.close();
      }

      // Another origin's events reach the store (as ingest appends them) while the read model
      // cannot take them: they are held, not dropped, and nothing is decided before them.
      for (let i = 0; i < 30; i++) await other.execute(register(`o${i}`), { actor: 'system' });
      const records = await other.store.readStream(originStream('n2'));
      await store.append(
        originStream('n2'),
        records.map((r) => ({ id: r.id, type: r.type, data: r.data, metadata: r.metadata })),
        { expectedRevision: 'no_stream' },
      );
      await node.writer.apply(records.map((r) => fromRecorded(r)));
      assert.equal(node.appliedVector().n2, undefined);
      const o = await attempt(node, 'g0');
      assert.ok('refused' in o && o.refused.code === 'STORE_FULL', 'g0 decided before n2');
      assert.equal(node.digest(), before.digest);
      assert.deepEqual(await ownEventIds(store, 'n1'), before.events);

      writer.pragma('max_page_count = 1073741823');
      const resumed = await attempt(node, 'c0');
      assert.ok(
        'receipt' in resumed,
        `c0 refused once raised: ${'refused' in resumed && resumed.refused}`,
      );
      acknowledged.push(resumed.id);
      assert.equal(node.appliedVector().n2, BigInt(records.length));
      assert.ok(getPrincipal(node.read, 'o29'));
      assert.equal(node.status().writer.failed, null);
      digest = node.digest();
    } finally {
      await stopNode(other);
      await node.close();
      await store.close();
    }
    const store2 = openSqliteStore({ path: storePath });
    const again = await startNode({
      nodeId: 'n1',
      store: store2,
      readModelPath: rmPath,
      ...testTrust('n1'),
    });
    try {
      await again.ready;
      assert.equal(again.digest(), digest);
      for (const id of acknowledged) assert.ok(getPrincipal(again.read, id), `${id} lost`);
      assert.equal(getPrincipal(again.read, 'h1'), undefined);
      assert.equal(getPrincipal(again.read, 'g0'), undefined);
    } finally {
      await again.close();
      await store2.close();
    }
  });
});
