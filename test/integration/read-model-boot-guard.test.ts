// The live read model is written without fsyncs, guarded by the machine's boot id
// (src/readmodel/boot-guard.ts): a file left open by the same boot (a crashed process) is kept,
// a file left open by an earlier boot (an OS crash or power cut) is thrown away and rebuilt from
// the log, and a clean close syncs the file and removes the mark.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { projections } from '../../projections/index.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { startNode } from '../../src/node/node.ts';
import { bootMarkerPath, currentBootId } from '../../src/readmodel/boot-guard.ts';
import {
  openReadModel,
  type ReadModel,
  ReadModelSchemaError,
} from '../../src/readmodel/database.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { testTrust } from '../support/keys.ts';

const bootId = currentBootId();
const skip = bootId === undefined ? 'this system has no boot id to guard with' : false;
if (skip) console.log(`# skipped read-model boot guard tests: ${skip}`);

const withDir = async (fn: (dir: string) => Promise<void> | void) => {
  const dir = mkdtempSync(join(tmpdir(), 'authlog-boot-guard-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

const CHECKPOINT = "SELECT position FROM _checkpoint WHERE name = 'probe'";
const writeProbe = (rm: ReadModel) =>
  rm.writer.prepare("INSERT INTO _checkpoint (name, position) VALUES ('probe', '42')").run();
const probe = (rm: ReadModel) =>
  rm.reader.prepare(CHECKPOINT).get() as { position: string } | undefined;
// What a killed process leaves: connections gone, no checkpoint, the mark still there.
const crash = (rm: ReadModel) => {
  rm.reader.close();
  rm.writer.close();
};

describe('read model boot guard', { skip }, () => {
  it('marks the file with this boot while open, unsynced, and syncs and unmarks on close', () =>
    withDir((dir) => {
      const path = join(dir, 'rm.sqlite');
      const rm = openReadModel(path, projections);
      assert.equal(readFileSync(bootMarkerPath(path), 'utf8').trim(), bootId);
      assert.equal(rm.writer.pragma('synchronous', { simple: true }), 0); // OFF
      writeProbe(rm);
      rm.close();
      assert.equal(existsSync(bootMarkerPath(path)), false);
      // The checkpoint at close moved everything into the file itself.
      assert.equal(existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0, 0);
      const again = openReadModel(path, projections);
      assert.deepEqual(probe(again), { position: '42' });
      again.close();
    }));

  it('keeps a file a crashed process left open in the same boot', () =>
    withDir((dir) => {
      const path = join(dir, 'rm.sqlite');
      const rm = openReadModel(path, projections);
      writeProbe(rm);
      crash(rm);
      assert.equal(existsSync(bootMarkerPath(path)), true);
      let torn = 0;
      const again = openReadModel(path, projections, { onTorn: () => torn++ });
      assert.equal(torn, 0);
      assert.deepEqual(probe(again), { position: '42' });
      again.close();
    }));

  it('throws away a file an earlier boot left open', () =>
    withDir((dir) => {
      const path = join(dir, 'rm.sqlite');
      const rm = openReadModel(path, projections);
      writeProbe(rm);
      crash(rm);
      writeFileSync(bootMarkerPath(path), '00000000-0000-4000-8000-000000000000\n');
      const torn: string[] = [];
      const again = openReadModel(path, projections, { onTorn: (p) => torn.push(p) });
      assert.deepEqual(torn, [path]);
      assert.equal(probe(again), undefined);
      assert.equal(readFileSync(bootMarkerPath(path), 'utf8').trim(), bootId);
      again.close();
    }));

  it('leaves no mark when it refuses a file made by other projections', () =>
    withDir((dir) => {
      const path = join(dir, 'rm.sqlite');
      openReadModel(path, projections).close();
      assert.throws(
        () => openReadModel(path, projections.slice(1), { onStale: 'throw' }),
        ReadModelSchemaError,
      );
      assert.equal(existsSync(bootMarkerPath(path)), false);
    }));

  it('leaves files opened with an explicit synchronous setting unmarked', () =>
    withDir((dir) => {
      const path = join(dir, 'rm.sqlite');
      const rm = openReadModel(path, projections, { synchronous: 'NORMAL' });
      assert.equal(existsSync(bootMarkerPath(path)), false);
      assert.equal(rm.writer.pragma('synchronous', { simple: true }), 1); // NORMAL
      rm.close();
    }));

  it('a node rebuilds a torn read model from the log to the same digest', () =>
    withDir(async (dir) => {
      const store = openSqliteStore({ path: join(dir, 'events.sqlite') });
      const readModelPath = join(dir, 'rm.sqlite');
      const node = await startNode({ nodeId: 'n1', store, readModelPath, ...testTrust('n1') });
      await node.ready;
      for (let i = 0; i < 10; i++) {
        await node.execute(
          registerPrincipal({ principalId: `p${i}`, kind: 'person', briefName: `P ${i}` }),
          {
            actor: 'system',
          },
        );
      }
      const before = node.digest();
      await node.close();
      writeFileSync(bootMarkerPath(readModelPath), '00000000-0000-4000-8000-000000000000\n');
      const after = await startNode({ nodeId: 'n1', store, readModelPath, ...testTrust('n1') });
      await after.ready;
      assert.equal(after.digest(), before);
      assert.equal(after.projector.applied.n1, 10n);
      await after.close();
      await store.close();
    }));
});
