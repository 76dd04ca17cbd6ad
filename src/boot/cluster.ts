// A node's identity in its cluster (docs/replication-trust.md): its Ed25519 signing key and the
// cluster file naming the founders, whose keys every member trusts without an enrollment event.
//
// The key: AUTHLOG_NODE_KEY (PKCS#8 PEM text) or AUTHLOG_NODE_KEY_FILE (a path); in development,
// `<data>/node-key.pem`, created at mode 0600 on first start. Production refuses to start without
// one of the two settings, and refuses a key file others can read (like ssh with its keys).
//
// The cluster file `<data>/cluster.json`: `{ "founders": [{ "nodeId", "publicKey" }] }`, written
// by `authlog cluster init` (the first site: itself) or `authlog cluster join <invitation>` (every
// other site: the founders as the invitation names them). AUTHLOG_CLUSTER_FOUNDERS
// (`node=publicKey,…`) stands in for it where a file is awkward (containers). In development a
// node without either founds a cluster of its own on first start.
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { NODE_ID_PATTERN } from '../events/envelope.ts';
import { generateNodeKey, isPublicKey, type NodeKey, nodeKeyFrom } from '../events/signature.ts';
import type { NodeKeyStore } from '../node/node.ts';
import type { Founders } from '../node/trust.ts';
import { ConfigError } from './config-error.ts';
import { readOrCreate, writeNew } from './files.ts';

export type Founder = { readonly nodeId: string; readonly publicKey: string };

export type ClusterIdentity = {
  readonly key: NodeKey;
  /** Where the key came from, for the start banner (never the key). */
  readonly keySource: string;
  /** The key file's rotation store; none for a key from the environment (rotated there). */
  readonly keyStore?: NodeKeyStore;
  readonly founders: readonly Founder[];
  readonly foundersSource: string;
};

const INVITATION_PREFIX = 'authlog-cluster-v1.';

export const foundersOf = (list: readonly Founder[]): Founders => {
  const byId = new Map(list.map((f) => [f.nodeId, f.publicKey]));
  return (nodeId) => byId.get(nodeId);
};

const parseFounders = (value: unknown, where: string): Founder[] => {
  const list =
    typeof value === 'object' && value !== null && 'founders' in value
      ? (value as { founders: unknown }).founders
      : undefined;
  if (!Array.isArray(list) || list.length === 0)
    throw new ConfigError([`${where}: no founders listed`]);
  return list.map((f: unknown) => {
    const { nodeId, publicKey } = (f ?? {}) as Record<string, unknown>;
    if (typeof nodeId !== 'string' || !NODE_ID_PATTERN.test(nodeId))
      throw new ConfigError([`${where}: a founder's nodeId is not a node id`]);
    if (typeof publicKey !== 'string' || !isPublicKey(publicKey))
      throw new ConfigError([`${where}: ${nodeId}'s publicKey is not an Ed25519 public key`]);
    return { nodeId, publicKey };
  });
};

/** `node=publicKey,…` */
const parseFoundersSetting = (text: string): Founder[] =>
  parseFounders(
    {
      founders: text
        .split(',')
        .filter((s) => s.trim() !== '')
        .map((pair) => {
          const [nodeId, publicKey] = pair.trim().split('=');
          return { nodeId, publicKey };
        }),
    },
    'AUTHLOG_CLUSTER_FOUNDERS',
  );

/** What `authlog cluster init` prints and `authlog cluster join` takes: the founders. */
export const invitationOf = (founders: readonly Founder[]): string =>
  INVITATION_PREFIX + Buffer.from(JSON.stringify({ founders })).toString('base64url');

export const foundersFromInvitation = (invitation: string): Founder[] => {
  const text = invitation.trim();
  if (!text.startsWith(INVITATION_PREFIX))
    throw new ConfigError([
      'not an authlog cluster invitation (it starts with authlog-cluster-v1.)',
    ]);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text.slice(INVITATION_PREFIX.length), 'base64url').toString());
  } catch {
    throw new ConfigError(['the invitation is damaged: copy it whole']);
  }
  return parseFounders(value, 'the invitation');
};

export const clusterFile = (dataDir: string): string => join(dataDir, 'cluster.json');
export const nodeKeyFile = (dataDir: string): string => join(dataDir, 'node-key.pem');

/** Writes the cluster file; refuses to change one that names other founders. */
export const writeClusterFile = (dataDir: string, founders: readonly Founder[]): void => {
  const file = clusterFile(dataDir);
  const text = `${JSON.stringify({ founders }, null, 2)}\n`;
  if (existsSync(file)) {
    const current = parseFounders(JSON.parse(readFileSync(file, 'utf8')), file);
    if (JSON.stringify(current) === JSON.stringify(founders)) return;
    throw new ConfigError([
      `${file} already names the founders ${current.map((f) => f.nodeId).join(', ')}: this data folder belongs to that cluster`,
    ]);
  }
  writeNew(file, text);
};

const fsyncPath = (path: string) => {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

/**
 * Key rotation for a key kept in a file: the next key is written to `<file>.next` (0600, synced)
 * before the rotation event is appended, and renamed over the key file once the event is in the
 * log. A stop in between leaves both: at start the log says which one the node signs with
 * (node.ts). The old private key is gone once the rename lands.
 */
export const fileKeyStore = (path: string): NodeKeyStore => {
  const next = `${path}.next`;
  return {
    prepare() {
      const made = generateNodeKey();
      writeFileSync(next, made.pem, { mode: 0o600 });
      fsyncPath(next);
      return made.key;
    },
    pending() {
      if (!existsSync(next)) return undefined;
      try {
        return nodeKeyFrom(readFileSync(next, 'utf8'));
      } catch {
        return undefined;
      }
    },
    promote() {
      if (!existsSync(next)) return;
      renameSync(next, path);
      fsyncPath(dirname(path));
    },
    discard() {
      rmSync(next, { force: true });
    },
  };
};

export const loadNodeKey = (
  get: (name: string) => string | undefined,
  dataDir: string,
  mode: 'development' | 'production',
): { key: NodeKey; keySource: string; keyStore?: NodeKeyStore } => {
  const fromEnv = get('AUTHLOG_NODE_KEY');
  const path = get('AUTHLOG_NODE_KEY_FILE');
  const parse = (pem: string, where: string) => {
    try {
      return nodeKeyFrom(pem);
    } catch {
      throw new ConfigError([`${where} holds no Ed25519 private key (PKCS#8 PEM)`]);
    }
  };
  if (fromEnv) return { key: parse(fromEnv, 'AUTHLOG_NODE_KEY'), keySource: 'environment' };
  if (path || mode === 'production') {
    if (!path)
      throw new ConfigError([
        'production mode needs AUTHLOG_NODE_KEY or AUTHLOG_NODE_KEY_FILE (an Ed25519 key: authlog node key-gen)',
      ]);
    let text: string;
    try {
      if (mode === 'production' && (statSync(path).mode & 0o077) !== 0)
        throw new ConfigError([
          `${path}: the node key file must not be readable by others (chmod 600)`,
        ]);
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([
        `AUTHLOG_NODE_KEY_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err})`,
      ]);
    }
    return { key: parse(text, path), keySource: path, keyStore: fileKeyStore(path) };
  }
  const file = nodeKeyFile(dataDir);
  const pem = readOrCreate(file, () => generateNodeKey().pem);
  return { key: parse(pem, file), keySource: file, keyStore: fileKeyStore(file) };
};

/** The node's key and founders. In development a node without a cluster founds its own. */
export const loadClusterIdentity = (
  get: (name: string) => string | undefined,
  dataDir: string,
  mode: 'development' | 'production',
  nodeId: string,
): ClusterIdentity => {
  const { key, keySource, keyStore } = loadNodeKey(get, dataDir, mode);
  const keys = { key, keySource, ...(keyStore ? { keyStore } : {}) };
  const setting = get('AUTHLOG_CLUSTER_FOUNDERS');
  if (setting)
    return {
      ...keys,
      founders: parseFoundersSetting(setting),
      foundersSource: 'environment',
    };
  const file = clusterFile(dataDir);
  if (!existsSync(file)) {
    // `authlog cluster init` sets AUTHLOG_CLUSTER_FOUND: a production node founds a cluster only
    // when told to, never because a file went missing.
    if (mode === 'production' && get('AUTHLOG_CLUSTER_FOUND') !== 'true')
      throw new ConfigError([
        `${file} is missing: run "authlog cluster init" on the first site, or "authlog cluster join <invitation>" on another`,
      ]);
    writeClusterFile(dataDir, [{ nodeId, publicKey: key.publicKey }]);
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigError([`${file} is not JSON: restore it, or join the cluster again`]);
  }
  return { ...keys, founders: parseFounders(value, file), foundersSource: file };
};
