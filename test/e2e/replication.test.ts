// Replication between real node processes on loopback: convergence with conflicts listed on
// every node, transitive relay around a cut link, peer authentication, and a new empty node
// catching up from a single peer.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  type Cluster,
  clusterApi,
  converged,
  replicationStatus,
  startCluster,
} from '../../scripts/cluster.ts';
import { removeDir, runCli, startServerProcess, tempDir } from '../support/process.ts';
import { type LinkProxy, proxiedLinks } from '../support/proxy.ts';

describe('replication between node processes', () => {
  let cluster: Cluster;
  const links = new Map<string, LinkProxy>();
  before(async () => {
    cluster = await startCluster({
      size: 3,
      link: proxiedLinks(links),
    });
  });
  after(async () => {
    await cluster.stopAll();
    for (const l of links.values()) await l.close();
    cluster.remove();
  });

  const write = (i: number, body: object) =>
    clusterApi(cluster.nodes[i]!.url, cluster.nodes[i]!.token, 'POST', '/v1/principals', body);

  it('converges with the same digest everywhere and lists the settled conflict on every node', async () => {
    await Promise.all([
      write(0, { principalId: 'pa', briefName: 'A', identity: { name: 'sam' } }),
      write(1, { principalId: 'pb', briefName: 'B', identity: { name: 'SAM' } }),
      write(2, { principalId: 'pc', briefName: 'C' }),
    ]);
    const statuses = await converged(cluster);
    assert.equal(new Set(statuses.map((s) => s.digest)).size, 1, 'digests differ');
    for (const n of cluster.nodes) {
      const { items } = (await clusterApi(n.url, n.token, 'GET', '/v1/conflicts')) as {
        items: { kind: string; subject: string }[];
      };
      assert.equal(
        items.filter((c) => c.kind === 'unique-identity').length,
        1,
        `${n.id} lists the identity conflict`,
      );
    }
  });

  it('relays transitively: with n0 and n2 cut apart, n2 still gets n0 writes through n1', async () => {
    links.get('0->2')!.cut();
    links.get('2->0')!.cut();
    await write(0, { principalId: 'relayed', briefName: 'via n1' });
    const statuses = await converged(cluster);
    assert.equal(new Set(statuses.map((s) => s.digest)).size, 1);
    const peers = (
      (await replicationStatus(cluster.nodes[2]!)) as unknown as {
        peers: { url: string; connected: boolean }[];
      }
    ).peers;
    assert.equal(peers.filter((p) => !p.connected).length, 1, 'n2 reports its link to n0 down');
    links.get('0->2')!.heal();
    links.get('2->0')!.heal();
  });

  it('serves the feed only to principals holding authlog.replicate', async () => {
    const n0 = cluster.nodes[0]!;
    assert.equal((await fetch(`${n0.url}/v1/replication/feed`)).status, 401);
    assert.equal(
      (
        await fetch(`${n0.url}/v1/replication/feed`, {
          headers: { authorization: 'Bearer alt_guess' },
        })
      ).status,
      401,
    );
    const { token } = (await clusterApi(n0.url, n0.token, 'POST', '/v1/principals/pc/tokens', {
      name: 'no-replicate',
    })) as { token: string };
    const denied = await fetch(`${n0.url}/v1/replication/feed`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(denied.status, 403);
    const body = await denied.text();
    assert.ok(!body.includes('PrincipalRegistered'), 'no data in a refusal');
    const ok = await fetch(`${n0.url}/v1/replication/feed?limit=1`, {
      headers: { authorization: `Bearer ${cluster.replicatorToken}` },
    });
    assert.equal(ok.status, 200);
  });

  it('a new empty node catches up from one peer and ends with the same digest', async () => {
    const dataDir = tempDir('joiner');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(
      `${dataDir}/peers.json`,
      JSON.stringify([{ url: cluster.nodes[1]!.url, token: cluster.replicatorToken }]),
      { mode: 0o600 },
    );
    // The documented way in: the founder's invitation, joined before the first start. The joiner
    // is not enrolled: it reads and catches up, and takes no writes.
    const invitation = await runCli([
      'cluster',
      'invitation',
      '--data-dir',
      cluster.nodes[0]!.dataDir,
    ]);
    assert.equal(invitation.code, 0, invitation.stderr);
    const joined = await runCli([
      'cluster',
      'join',
      invitation.stdout.trim(),
      '--data-dir',
      dataDir,
      '--node-id',
      'joiner',
    ]);
    assert.equal(joined.code, 0, joined.stderr);
    assert.match(joined.stdout, /authlog cluster enroll joiner --public-key [A-Za-z0-9_-]{43}/);
    const joiner = await startServerProcess({
      dataDir,
      nodeId: 'joiner',
      args: ['--no-bootstrap-admin'],
    });
    try {
      const target = await replicationStatus(cluster.nodes[1]!);
      const deadline = Date.now() + 30_000;
      let status: { vector: Record<string, string>; digest: string } | undefined;
      while (Date.now() < deadline) {
        status = (await clusterApi(
          joiner.url,
          joiner.token,
          'GET',
          '/v1/replication/status',
        )) as typeof status;
        if (JSON.stringify(status?.vector) === JSON.stringify(target.vector)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(status?.vector, target.vector);
      assert.equal(status?.digest, target.digest);
    } finally {
      await joiner.stop();
      removeDir(dataDir);
    }
  });

  it('verify says OK for converged nodes and DIVERGED for a tampered read model', async () => {
    const peers = cluster.nodes.flatMap((n) => ['--peer', n.url]);
    const env = { AUTHLOG_PEER_TOKEN: cluster.replicatorToken };
    const ok = await runCli(['verify', ...peers, '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).verdict, 'OK');

    // Corrupt n2's read model behind its back: same events, different state.
    const n2 = cluster.nodes[2]!;
    await cluster.kill(2);
    const db = new Database(join(n2.dataDir, 'readmodel.sqlite'));
    db.prepare("UPDATE principals SET full_name = 'tampered' WHERE id = 'pa'").run();
    db.close();
    await cluster.start(2);
    const bad = await runCli(['verify', ...peers, '--json', '--timeout', '20'], env);
    assert.equal(bad.code, 1);
    assert.equal(JSON.parse(bad.stdout).verdict, 'DIVERGED');
    // `authlog rebuild` repairs it from the log.
    await cluster.nodes[2]!.process!.stop();
    cluster.nodes[2]!.process = undefined;
    const rebuilt = await runCli(['rebuild'], {
      AUTHLOG_DATA_DIR: n2.dataDir,
      AUTHLOG_NODE_ID: n2.id,
    });
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    await cluster.start(2);
    assert.equal((await runCli(['verify', ...peers, '--timeout', '20'], env)).code, 0);
  });

  it('peer add and list keep peers in the data folder, tokens never shown', async () => {
    const dir = tempDir('peers');
    try {
      const added = await runCli(
        ['peer', 'add', 'http://127.0.0.1:9/', '--data-dir', dir, '--token-file', '-'],
        {},
        `${cluster.replicatorToken}\n`,
      );
      assert.equal(added.code, 0, added.stderr);
      const listed = await runCli(['peer', 'list', '--json', '--data-dir', dir], {
        AUTHLOG_PEERS: '',
      });
      assert.deepEqual(JSON.parse(listed.stdout), [
        { url: 'http://127.0.0.1:9', source: 'peers.json' },
      ]);
      assert.ok(!listed.stdout.includes(cluster.replicatorToken), 'token printed');
      assert.equal(
        (await runCli(['peer', 'add', 'ftp://x', '--data-dir', dir, '--token-file', '-'], {}, 'x'))
          .code,
        2,
      );
    } finally {
      removeDir(dir);
    }
  });
});
