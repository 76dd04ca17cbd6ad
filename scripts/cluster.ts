// Starts N authlog nodes as separate processes on loopback, each with its own data folder, wired
// as peers of each other (full mesh) through a replication principal's access token.
//
//   npm run cluster -- 3            # runs until Ctrl-C, printing each node's URL and token
//
// Tests use startCluster() with a `link` function to put a cuttable proxy on each directed link.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterFile, type Founder, nodeKeyFile, writeClusterFile } from '../src/boot/cluster.ts';
import { EVENT_FAMILIES } from '../src/events/catalogue.ts';
import { generateNodeKey } from '../src/events/signature.ts';
import {
  removeDir,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../test/support/process.ts';
import { freePort } from '../test/support/proxy.ts';

export type ClusterNode = {
  readonly index: number;
  readonly id: string;
  readonly port: number;
  readonly dataDir: string;
  readonly url: string;
  process: ServerProcess | undefined;
  /** The node's operator token (for test and admin calls). */
  token: string;
};

export type Cluster = {
  readonly nodes: readonly ClusterNode[];
  /** The replication principal's token, valid on every node once replicated. */
  readonly replicatorToken: string;
  start(i: number): Promise<void>;
  kill(i: number): Promise<void>;
  stopAll(): Promise<void>;
  remove(): void;
};

const api = async (url: string, token: string, method: string, path: string, body?: unknown) => {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
};

const readClusterFile = (dataDir: string): Founder[] =>
  (JSON.parse(readFileSync(clusterFile(dataDir), 'utf8')) as { founders: Founder[] }).founders;

export const startCluster = async (options: {
  size: number;
  /** Port to reach node `to` from node `from` (default: node `to`'s own port). */
  link?: (from: number, to: number, port: number) => Promise<number> | number;
  env?: Record<string, string>;
  pullWaitMs?: number;
}): Promise<Cluster> => {
  const base = tempDir('cluster');
  const ports = await Promise.all(Array.from({ length: options.size }, () => freePort()));
  const nodes: ClusterNode[] = ports.map((port, index) => ({
    index,
    id: `n${index}`,
    port,
    dataDir: join(base, `n${index}`),
    url: `http://127.0.0.1:${port}`,
    process: undefined,
    token: '',
  }));
  const launch = async (n: ClusterNode, bootstrap: boolean) => {
    n.process = await startServerProcess({
      dataDir: n.dataDir,
      nodeId: n.id,
      env: { ...options.env },
      args: ['--port', String(n.port), ...(bootstrap ? [] : ['--no-bootstrap-admin'])],
    });
    n.token = n.process.token;
  };

  // The first node alone: make the replication principal, its role and its token.
  const first = nodes[0]!;
  await launch(first, true);
  await api(first.url, first.token, 'POST', '/v1/principals', {
    principalId: 'replicator',
    kind: 'service',
    briefName: 'replicator',
  });
  await api(first.url, first.token, 'POST', '/v1/roles', {
    roleId: 'replicators',
    name: 'replicators',
  });
  await api(first.url, first.token, 'PUT', '/v1/roles/replicators/grants', {
    privilege: 'authlog.replicate',
    effect: 'grant',
  });
  await api(first.url, first.token, 'POST', '/v1/roles/replicators/members', {
    principalId: 'replicator',
  });
  const { token: replicatorToken } = (await api(
    first.url,
    first.token,
    'POST',
    '/v1/principals/replicator/tokens',
    { name: 'mesh', days: 30 },
  )) as { token: string };
  // The other nodes join the cluster the first one founded: each gets its own key and the
  // founders' file (what `authlog cluster join` writes), and the first enrolls them.
  const founders = readClusterFile(first.dataDir);
  for (const n of nodes.slice(1)) {
    mkdirSync(n.dataDir, { recursive: true });
    const { pem, key } = generateNodeKey();
    writeFileSync(nodeKeyFile(n.dataDir), pem, { mode: 0o600 });
    writeClusterFile(n.dataDir, founders);
    await api(first.url, first.token, 'POST', '/v1/cluster/nodes', {
      nodeId: n.id,
      publicKey: key.publicKey,
      families: [...EVENT_FAMILIES],
    });
  }
  await first.process!.stop();

  for (const n of nodes) {
    const peers = [];
    for (const m of nodes) {
      if (m === n) continue;
      const port = options.link ? await options.link(n.index, m.index, m.port) : m.port;
      peers.push({ url: `http://127.0.0.1:${port}`, token: replicatorToken });
    }
    mkdirSync(n.dataDir, { recursive: true });
    writeFileSync(join(n.dataDir, 'peers.json'), JSON.stringify(peers), { mode: 0o600 });
  }
  await Promise.all(nodes.map((n) => launch(n, false)));
  // A node takes writes once it holds its own enrollment.
  for (const n of nodes) {
    const deadline = Date.now() + 60_000;
    while (!((await api(n.url, n.token, 'GET', '/v1/cluster')) as { enrolled: boolean }).enrolled) {
      if (Date.now() > deadline) throw new Error(`${n.id} did not receive its enrollment`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return {
    nodes,
    replicatorToken,
    start: (i) => launch(nodes[i]!, false),
    async kill(i) {
      await nodes[i]!.process?.kill();
      nodes[i]!.process = undefined;
    },
    async stopAll() {
      await Promise.all(nodes.map(async (n) => n.process?.stop()));
      for (const n of nodes) n.process = undefined;
    },
    remove: () => removeDir(base),
  };
};

export type ReplicationStatus = {
  node: string;
  vector: Record<string, string>;
  buffered: number;
  digest: string;
  conflicts: number;
};

export const replicationStatus = async (n: ClusterNode): Promise<ReplicationStatus> =>
  (await api(n.url, n.token, 'GET', '/v1/replication/status')) as unknown as ReplicationStatus;

/** Waits until every running node has the same version vector; returns their statuses. */
export const converged = async (
  cluster: Cluster,
  timeoutMs = 60_000,
): Promise<ReplicationStatus[]> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(
      cluster.nodes.filter((n) => n.process).map(replicationStatus),
    );
    const vectors = new Set(statuses.map((s) => JSON.stringify(s.vector)));
    if (vectors.size === 1 && statuses.every((s) => s.buffered === 0)) return statuses;
    if (Date.now() > deadline)
      throw new Error(
        `no convergence: ${statuses.map((s) => `${s.node} ${JSON.stringify(s.vector)}`).join('; ')}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
};

export { api as clusterApi };

if (import.meta.url === `file://${process.argv[1]}`) {
  const size = Number(process.argv[2] ?? 3);
  const cluster = await startCluster({ size });
  for (const n of cluster.nodes)
    process.stdout.write(`${n.id}  ${n.url}  operator token in ${n.dataDir}/secrets.json\n`);
  process.stdout.write(
    `replication token: (in each peers.json)\nCtrl-C stops the cluster and removes its data.\n`,
  );
  process.once('SIGINT', () => void cluster.stopAll().then(() => cluster.remove()));
}
