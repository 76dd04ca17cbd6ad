// Node keys for tests: one Ed25519 key per node id, derived from the id (a fixed seed), and a
// founders list that trusts every such key. Test clusters are then clusters whose every node is a
// founder, without an enrollment step; tests of enrollment itself start nodes without these.
import { createHash, createPrivateKey } from 'node:crypto';
import {
  generateNodeKey,
  type NodeKey,
  nodeKeyFrom,
  sealEvent,
} from '../../src/events/signature.ts';
import type { NodeKeyStore } from '../../src/node/node.ts';
import type { Founders } from '../../src/node/trust.ts';
import type { EventData } from '../../src/store/port.ts';

// The PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410, section 7).
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

const cache = new Map<string, { key: NodeKey; pem: string; line: string }>();

const derive = (nodeId: string) => {
  let k = cache.get(nodeId);
  if (!k) {
    const seed = createHash('sha256').update(`authlog test node key:${nodeId}`).digest();
    const privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    k = {
      key: nodeKeyFrom(privateKey),
      pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      line: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    };
    cache.set(nodeId, k);
  }
  return k;
};

export const testKey = (nodeId: string): NodeKey => derive(nodeId).key;

/** PKCS#8 PEM of the test key (what AUTHLOG_NODE_KEY carries for a node process). */
export const testKeyPem = (nodeId: string): string => derive(nodeId).pem;

/** Every node id is a founder with its test key. */
export const testFounders: Founders = (nodeId) => testKey(nodeId).publicKey;

/** Options for startNode: the node's test key and the test founders. */
export const testTrust = (nodeId: string) => ({ key: testKey(nodeId), founders: testFounders });

/** A key store in memory (boot/cluster.ts keeps the next key in a file): what was prepared,
 * promoted and discarded, for tests of rotation. */
export const memoryKeyStore = (): NodeKeyStore & { promoted: NodeKey[]; prepared: NodeKey[] } => {
  let pending: NodeKey | undefined;
  const promoted: NodeKey[] = [];
  const prepared: NodeKey[] = [];
  return {
    promoted,
    prepared,
    prepare() {
      pending = generateNodeKey().key;
      prepared.push(pending);
      return pending;
    },
    pending: () => pending,
    promote() {
      if (pending) promoted.push(pending);
      pending = undefined;
    },
    discard() {
      pending = undefined;
    },
  };
};

/** Options for startNode: a cluster this node founded alone (enrollment tests); its key can be
 * rotated (in memory). */
export const soloTrust = (nodeId: string) => ({
  key: testKey(nodeId),
  founders: (id: string) => (id === nodeId ? testKey(id).publicKey : undefined),
  keyStore: memoryKeyStore(),
});

/** The settings a production node needs for its identity: its test key, and a cluster it founded
 * alone (or of `founders`, each with its test key). */
export const productionIdentity = (
  nodeId: string,
  founders: readonly string[] = [nodeId],
): Record<string, string> => ({
  AUTHLOG_NODE_KEY: derive(nodeId).line,
  AUTHLOG_CLUSTER_FOUNDERS: founders.map((f) => `${f}=${testKey(f).publicKey}`).join(','),
});

/** Signs a run of one origin's consecutive events (written by hand, bypassing the writer) with the
 * origin's test key and chains them, after `prev` (the hash of the origin's event before the run),
 * as the writer would: what a rebuild or a node's start then checks (src/node/chain.ts). */
export const sealRun = (events: readonly EventData[], prev?: string): EventData[] => {
  let head = prev;
  return events.map((e) => {
    const origin = String(e.metadata.origin);
    const sealed = sealEvent(testKey(origin), {
      ...e,
      metadata: { ...e.metadata, ...(head === undefined ? {} : { prev: head }) },
    });
    head = sealed.hash;
    return sealed.data;
  });
};
