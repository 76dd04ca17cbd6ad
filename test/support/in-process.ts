// In-process nodes on in-memory SQLite stores and read models, for property tests that need many
// small clusters quickly. Replication between them uses the real ingest path (append to origin
// streams, catch-up subscription applies); only the HTTP hop is left out.

import { seqOf, type VersionVector } from '../../src/clock/version-vector.ts';
import { type AuthlogNode, type NodeOptions, startNode } from '../../src/node/node.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { testTrust } from './keys.ts';

/** A node on in-memory files. By default every node id is a founder with its test key (keys.ts),
 * so nodes of a test replicate without an enrollment step. */
export const startMemoryNode = async (
  nodeId: string,
  trust: Pick<NodeOptions, 'key' | 'founders' | 'keyStore'> = testTrust(nodeId),
): Promise<AuthlogNode> => {
  const store = openSqliteStore({ path: ':memory:' });
  const node = await startNode({ nodeId, store, readModelPath: ':memory:', ...trust });
  await node.ready;
  return node;
};

export const stopNode = async (node: AuthlogNode): Promise<void> => {
  await node.close();
  await node.store.close();
};

export const waitApplied = async (
  node: AuthlogNode,
  target: VersionVector,
  timeoutMs = 5000,
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  // What is applied stays applied: one origin after another, each wait woken by the commits.
  for (const [origin, seq] of Object.entries(target)) {
    if (!(await node.waitApplied(origin, seq, Math.max(0, deadline - Date.now()))))
      throw new Error(
        `node ${node.id} did not apply ${JSON.stringify(target, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
  }
};

/** Copies to `to` every event `from` holds that `to` lacks, in `from`'s log order. */
export const pull = async (from: AuthlogNode, to: AuthlogNode): Promise<void> => {
  const records = await from.eventLog.readLog({ maxCount: 1_000_000 });
  const applied = to.appliedVector();
  const missing = records.filter(
    (r) => BigInt(String(r.metadata.seq)) > seqOf(applied, String(r.metadata.origin)),
  );
  if (missing.length === 0) return;
  const result = await to.ingest.append(missing);
  if (result.refused || result.held)
    throw new Error(
      `${to.id} did not take ${from.id}'s events: ${JSON.stringify(result.refused ?? result.held)}`,
    );
  await waitApplied(to, from.appliedVector());
};
