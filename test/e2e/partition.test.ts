// Threat: a multi-site store that loses writes or diverges under partitions and crashes. Three
// real node processes, a cuttable proxy on each directed replication link; random writes at
// every node (conflicting on purpose: the same identity names, grant vs revoke, deactivate vs
// profile change), random cuts and heals, SIGKILLs and restarts — with a fixed seed and a bounded
// duration. After the final heal: equal version vectors and digests, no acknowledged write lost,
// every uniqueness conflict listed. `npm run soak:partition` runs it longer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Cluster, clusterApi, converged, startCluster } from '../../scripts/cluster.ts';
import { type LinkProxy, proxiedLinks } from '../support/proxy.ts';

const SEED = Number(process.env.PARTITION_SEED ?? 7);
const SECONDS = Number(process.env.PARTITION_SECONDS ?? 20);
const SIZE = 3;

let state = SEED;
const rand = () => {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (n: number) => Math.floor(rand() * n);

describe(`partitions and crashes (seed ${SEED}, ${SECONDS} s)`, () => {
  let cluster: Cluster;
  const links = new Map<string, LinkProxy>();
  before(async () => {
    cluster = await startCluster({
      size: SIZE,
      link: proxiedLinks(links),
    });
  });
  after(async () => {
    await cluster.stopAll();
    for (const l of links.values()) await l.close();
    cluster.remove();
  });

  it('converges after the final heal with nothing acknowledged lost', async () => {
    const call = (i: number, method: string, path: string, body?: object) => {
      const n = cluster.nodes[i]!;
      return clusterApi(n.url, n.token, method, path, body);
    };
    // Shared things every site will fight over.
    await call(0, 'POST', '/v1/roles', { roleId: 'shared', name: 'shared' });
    for (let k = 0; k < 4; k++)
      await call(0, 'POST', '/v1/principals', { principalId: `s${k}`, briefName: `Shared ${k}` });
    await converged(cluster);

    const acked: { id: string; name: string }[] = [];
    const counts = { writes: 0, refused: 0, failed: 0, cuts: 0, heals: 0, kills: 0, restarts: 0 };
    const running = () => cluster.nodes.filter((n) => n.process).map((n) => n.index);
    const deadline = Date.now() + SECONDS * 1000;
    let k = 0;
    while (Date.now() < deadline) {
      const roll = rand();
      const up = running();
      if (roll < 0.06) {
        const link = [...links.values()][int(links.size)]!;
        link.cut();
        counts.cuts++;
      } else if (roll < 0.12) {
        const link = [...links.values()][int(links.size)]!;
        link.heal();
        counts.heals++;
      } else if (roll < 0.14 && up.length > 1) {
        await cluster.kill(up[int(up.length)]!);
        counts.kills++;
      } else if (roll < 0.2 && up.length < SIZE) {
        const down = cluster.nodes.filter((n) => !n.process).map((n) => n.index);
        await cluster.start(down[int(down.length)]!);
        counts.restarts++;
      } else {
        const at = up[int(up.length)]!;
        const s = `s${int(4)}`;
        const op = int(6);
        const id = `n${at}-${k++}`;
        const name = `user${int(12)}`;
        const request: [string, string, object?] =
          op === 0 || op === 1
            ? ['POST', '/v1/principals', { principalId: id, briefName: id, identity: { name } }]
            : op === 2
              ? [
                  'PUT',
                  '/v1/roles/shared/grants',
                  { privilege: 'authlog.audit.read', effect: rand() < 0.5 ? 'grant' : 'revoke' },
                ]
              : op === 3
                ? ['POST', `/v1/principals/${s}/${rand() < 0.5 ? 'deactivate' : 'activate'}`, {}]
                : op === 4
                  ? ['PATCH', `/v1/principals/${s}`, { fullName: `Name ${k}` }]
                  : ['POST', '/v1/roles/shared/members', { principalId: s }];
        counts.writes++;
        try {
          await call(at, request[0], request[1], request[2]);
          if (op <= 1) acked.push({ id, name });
        } catch (err) {
          // 409 (name taken here) is a refusal; a connection error is a write never acknowledged.
          if (String(err).includes(': 409 ')) counts.refused++;
          else counts.failed++;
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }

    for (const l of links.values()) l.heal();
    for (const n of cluster.nodes) if (!n.process) await cluster.start(n.index);
    const statuses = await converged(cluster, 120_000);
    console.log(
      `# ${JSON.stringify({ seed: SEED, ...counts, acked: acked.length, vector: statuses[0]?.vector })}`,
    );
    assert.equal(new Set(statuses.map((s) => s.digest)).size, 1, 'digests differ at equal vectors');
    assert.ok(
      acked.length > 10,
      `too few acknowledged registrations (${acked.length}) to prove anything`,
    );

    const conflictLists = await Promise.all(
      cluster.nodes.map((n) => clusterApi(n.url, n.token, 'GET', '/v1/conflicts')),
    );
    for (const list of conflictLists)
      assert.deepEqual(list, conflictLists[0], 'conflict lists differ');
    const conflicted = new Set(
      ((conflictLists[0] as { items: { kind: string; subject: string }[] }).items ?? [])
        .filter((c) => c.kind === 'unique-identity')
        .map((c) => c.subject),
    );
    for (const n of cluster.nodes) {
      for (const a of acked) {
        const p = (await clusterApi(n.url, n.token, 'GET', `/v1/principals/${a.id}`)) as {
          identities: { id: string; status: string }[];
        };
        const identity = p.identities[0];
        assert.ok(identity, `${n.id} lost the identity of acknowledged ${a.id}`);
        if (identity.status === 'conflict')
          assert.ok(conflicted.has(identity.id), `${identity.id} in conflict but not listed`);
      }
    }
  });
});
