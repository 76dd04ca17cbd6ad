// Threat: a node key that leaks, or has to be assumed leaked (issue 16 item 1). A node rotates its
// Ed25519 key with an event of its own origin, `NodeKeyRotated`, signed by the key it replaces; the
// new key signs from the next seq on and every node checks each event against the key of its seq.
// So whoever holds an old key cannot sign the node's future events, a rotation cannot be forged by
// someone without the current key, and a stop between the rotation's append and the key file's
// replacement neither strands the node nor makes it sign with the wrong key. Rotation is an
// administrative act (authlog.cluster.manage, elevated): NIST SP 800-57 part 1 rev 5 section 5.3
// (cryptoperiods: keys are replaced), OWASP ASVS 5.0 V11.1 (key management), RFC 8032 (Ed25519).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { fileKeyStore, loadNodeKey } from '../../src/boot/cluster.ts';
import { ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
import { eventHash, type NodeKey, nodeKeyFrom, sealEvent } from '../../src/events/signature.ts';
import { type AuthlogNode, startNode } from '../../src/node/node.ts';
import type { RawEvent } from '../../src/node/trust.ts';
import { rotateNodeKey } from '../../src/replication/cluster.ts';
import type { EventData, JsonObject } from '../../src/store/port.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';
import { memoryKeyStore, testFounders, testKey, testKeyPem } from '../support/keys.ts';

const SYSTEM = { actor: 'system', elevated: true } as const;
const register = (node: AuthlogNode, principalId: string) =>
  node.execute(registerPrincipal({ principalId, kind: 'person', briefName: principalId }), SYSTEM);
const logOf = async (node: AuthlogNode): Promise<RawEvent[]> =>
  (await node.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX }))
    .filter((r) => r.metadata.origin === node.id)
    .map(({ id, type, data, metadata }) => ({ id, type, data, metadata }));
/** `e` signed again by `key` as its origin's next event after `last`. */
const forgeNext = (last: RawEvent, key: NodeKey, principalId: string): RawEvent => {
  const metadata = structuredClone(last.metadata) as JsonObject;
  delete metadata.sig;
  metadata.seq = String(BigInt(String(last.metadata.seq)) + 1n);
  metadata.prev = eventHash(last);
  const data = { ...(structuredClone(last.data) as JsonObject), principalId };
  return sealEvent(key, {
    id: `01JF0RGED${principalId.toUpperCase().padEnd(17, '0')}`.slice(0, 26),
    type: 'PrincipalRegistered',
    data,
    metadata,
  } as EventData).data;
};

describe('node key rotation', () => {
  const nodes: AuthlogNode[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await stopNode(n);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('the new key signs from the next seq on; peers follow; the old key can no longer sign', async () => {
    const keys = memoryKeyStore();
    const a = await startMemoryNode('site-a', {
      key: testKey('site-a'),
      founders: testFounders,
      keyStore: keys,
    });
    const b = await startMemoryNode('site-b');
    nodes.push(a, b);
    await register(a, 'before');
    const receipt = await a.rotateKey(rotateNodeKey, SYSTEM);
    const next = keys.prepared[0]!;
    assert.equal(receipt.result.publicKey, next.publicKey);
    assert.deepEqual(keys.promoted, [next], 'the prepared key became the node key');
    assert.equal(a.writer.publicKey, next.publicKey);
    await register(a, 'after');
    await pull(a, b);
    assert.ok(b.read.get("SELECT 1 AS x FROM principals WHERE id = 'after'"));
    assert.equal(b.trust.member('site-a')?.keys.length, 2);
    assert.equal(a.digest(), b.digest());

    // Whoever kept the old key signs a next event of site-a: refused as a bad signature.
    const log = await logOf(a);
    const forged = forgeNext(log.at(-1)!, testKey('site-a'), 'mallory');
    const result = await b.ingest.append([forged]);
    assert.equal(result.refused?.reason, 'bad-signature');
    assert.equal(b.read.get("SELECT 1 AS x FROM principals WHERE id = 'mallory'"), undefined);
    // The new key's own next event is taken.
    const genuine = forgeNext(log.at(-1)!, next, 'genuine');
    assert.equal((await b.ingest.append([genuine])).refused, undefined);
  });

  it('two rotations at once: one goes through, the other is refused; every event still checks', async () => {
    const keys = memoryKeyStore();
    const a = await startMemoryNode('site-a', {
      key: testKey('site-a'),
      founders: testFounders,
      keyStore: keys,
    });
    const b = await startMemoryNode('site-b');
    nodes.push(a, b);
    const both = await Promise.allSettled([
      a.rotateKey(rotateNodeKey, SYSTEM),
      a.rotateKey(rotateNodeKey, SYSTEM),
    ]);
    assert.deepEqual(
      both.map((r) => r.status),
      ['fulfilled', 'rejected'],
    );
    assert.equal((both[1] as PromiseRejectedResult).reason.code, 'KEY_NOT_ROTATABLE');
    assert.equal(a.writer.publicKey, keys.promoted[0]?.publicKey);
    await register(a, 'after-both');
    await pull(a, b);
    assert.equal(a.digest(), b.digest());
  });

  it('a rotation event signed by anyone but the current key is refused', async () => {
    const a = await startMemoryNode('site-a');
    const b = await startMemoryNode('site-b');
    nodes.push(a, b);
    await register(a, 'x');
    await pull(a, b);
    const last = (await logOf(a)).at(-1)!;
    const attacker = memoryKeyStore().prepare();
    const metadata = structuredClone(last.metadata) as JsonObject;
    delete metadata.sig;
    metadata.seq = String(BigInt(String(last.metadata.seq)) + 1n);
    metadata.prev = eventHash(last);
    const rotation = sealEvent(attacker, {
      id: '01JF0RGEDR0TAT10N000000000',
      type: 'NodeKeyRotated',
      data: { publicKey: attacker.publicKey },
      metadata,
    } as EventData).data;
    assert.equal((await b.ingest.append([rotation])).refused?.reason, 'bad-signature');
    assert.equal(b.trust.member('site-a')?.keys.length, 1);
  });

  it('without a key store (a key from the environment) the rotation is refused and nothing is written', async () => {
    const a = await startMemoryNode('site-a');
    nodes.push(a);
    const before = a.appliedVector();
    await assert.rejects(a.rotateKey(rotateNodeKey, SYSTEM), { code: 'KEY_NOT_ROTATABLE' });
    assert.deepEqual(a.appliedVector(), before);
  });

  it('refused for want of the privilege: the prepared key is discarded', async () => {
    const keys = memoryKeyStore();
    const a = await startMemoryNode('site-a', {
      ...{ key: testKey('site-a'), founders: testFounders },
      keyStore: keys,
    });
    nodes.push(a);
    await assert.rejects(a.rotateKey(rotateNodeKey, { actor: 'nobody', elevated: false }), {
      status: 403,
    });
    assert.equal(keys.pending(), undefined);
    assert.equal(a.writer.publicKey, testKey('site-a').publicKey);
  });

  it('a stop between the append and the key file replacement: the node finishes the rotation at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authlog-rotate-'));
    dirs.push(dir);
    const keyFile = join(dir, 'node-key.pem');
    const pem = testKeyPem('site-a');
    writeFileSync(keyFile, pem, { mode: 0o600 });
    const env = (name: string) => (name === 'AUTHLOG_NODE_KEY_FILE' ? keyFile : undefined);
    const open = async () => {
      const loaded = loadNodeKey(env, dir, 'production');
      const store = openSqliteStore({ path: join(dir, 'events.db') });
      const node = await startNode({
        nodeId: 'site-a',
        store,
        readModelPath: join(dir, 'read.db'),
        key: loaded.key,
        founders: testFounders,
        ...(loaded.keyStore ? { keyStore: loaded.keyStore } : {}),
      });
      await node.ready;
      return node;
    };
    let a = await open();
    await register(a, 'one');
    await a.rotateKey(rotateNodeKey, SYSTEM);
    const rotated = a.writer.publicKey;
    assert.equal(
      nodeKeyFrom(readFileSync(keyFile, 'utf8')).publicKey,
      rotated,
      'key file replaced',
    );
    await stopNode(a);
    // Put the machine back to the moment after the append, before the rename.
    renameSync(keyFile, `${keyFile}.next`);
    writeFileSync(keyFile, pem, { mode: 0o600 });
    a = await open();
    nodes.push(a);
    assert.equal(a.status().keyProblem, null);
    assert.equal(a.writer.publicKey, rotated, 'the pending key the log names is taken up');
    assert.equal(nodeKeyFrom(readFileSync(keyFile, 'utf8')).publicKey, rotated);
    await register(a, 'two');
    const b = await startMemoryNode('site-b');
    nodes.push(b);
    await pull(a, b);
    assert.equal(a.digest(), b.digest());
  });

  it('a node restored with a key the log has rotated away from refuses to write (KEY_MISMATCH)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authlog-rotate-'));
    dirs.push(dir);
    const keys = fileKeyStore(join(dir, 'node-key.pem'));
    const store = openSqliteStore({ path: join(dir, 'events.db') });
    const options = {
      nodeId: 'site-a',
      store,
      readModelPath: join(dir, 'read.db'),
      founders: testFounders,
    };
    let a = await startNode({ ...options, key: testKey('site-a'), keyStore: keys });
    await a.ready;
    await a.rotateKey(rotateNodeKey, SYSTEM);
    await a.close();
    // The old key, and no pending one: an operator restored an old backup of the key.
    a = await startNode({ ...options, key: testKey('site-a'), keyStore: memoryKeyStore() });
    nodes.push(a);
    await a.ready;
    assert.match(a.status().keyProblem ?? '', /the cluster holds/);
    await assert.rejects(register(a, 'nope'), { code: 'KEY_MISMATCH' });
  });
});
