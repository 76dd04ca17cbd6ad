// Threat: a peer that lies (issue 16). Whoever controls one peer, or holds one peer token, serves
// a feed of its choosing. A node must apply only what each event's origin signed, in its origin's
// chain, within what that origin is enrolled to write, from a clock within the drift limit —
// whoever delivered it (DESIGN.md section 6: "a peer is a courier, not an authority"). OWASP ASVS
// 5.0 V11 (cryptography: signatures from a maintained library), V16.3 (security events logged);
// RFC 8032 (Ed25519), RFC 8785 (canonical JSON), RFC 9162 (hash-chained logs, as in CT).
//
// A real victim node process pulls from a real fake-peer process (test/support/fake-peer.ts) that
// serves, in turn, each forged feed of the review's table: events stamped with another origin and
// its real administrator as actor, an event of the victim's own origin, a real event with its actor
// changed, two validly signed events for one seq (equivocation), forged seqs followed by the real
// ones, a far-future clock, and an event of a family its origin may not write. The real events come
// from a real node of origin site-b in this process. After each forgery: nothing of it is applied,
// the victim's vector for every other origin is unchanged, status and metrics name the refusal,
// the audit trail records it; then the real events arrive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordAccessDenied } from '../../src/accounting/commands.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { addRoleMember } from '../../src/authz/commands.ts';
import { decodeHlc, encodeHlc } from '../../src/clock/hlc.ts';
import { ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
import { eventHash, generateNodeKey, type NodeKey, sealEvent } from '../../src/events/signature.ts';
import type { Command } from '../../src/node/command.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import type { RawEvent } from '../../src/node/trust.ts';
import { enrollNode } from '../../src/replication/cluster.ts';
import type { EventData, JsonObject } from '../../src/store/port.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';
import { productionIdentity, testKey } from '../support/keys.ts';
import { removeDir, type ServerProcess, startServerProcess, tempDir } from '../support/process.ts';

const ROOT = join(import.meta.dirname, '..', '..');

type Status = {
  vector: Record<string, string>;
  peers: {
    refused: { origin: string; seq: string; reason: string } | null;
    held: { origin: string; seq: string; detail: string } | null;
    refusals: Record<string, number>;
  }[];
};

describe('a lying peer: forged feeds served by a real fake-peer process', () => {
  const dir = tempDir('forged');
  const feedFile = join(dir, 'feed.json');
  let fake: ReturnType<typeof spawn>;
  let victim: ServerProcess;
  let siteB: AuthlogNode;
  let branch: AuthlogNode;
  let feed: RawEvent[] = [];
  const attacker: NodeKey = generateNodeKey().key;

  const serve = (events: RawEvent[]) => {
    feed = events;
    // Atomically: the fake peer may read the file at any moment.
    writeFileSync(`${feedFile}.next`, JSON.stringify({ events }));
    renameSync(`${feedFile}.next`, feedFile);
  };
  const api = async (method: string, path: string, body?: object) => {
    const r = await fetch(`${victim.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${victim.token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, body: (await r.text()) as string };
  };
  const status = async () =>
    JSON.parse((await api('GET', '/v1/replication/status')).body) as Status;
  const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const applied = async (origin: string) => BigInt((await status()).vector[origin] ?? '0');
  const exec = <R>(node: AuthlogNode, command: Command<R>) =>
    node.execute(command, { actor: 'system' });
  /** Everything a node holds of one origin, as stored (what a feed serves). */
  const logOf = async (node: AuthlogNode, origin: string): Promise<RawEvent[]> =>
    (await node.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX }))
      .filter((r) => r.metadata.origin === origin)
      .map(({ id, type, data, metadata }) => ({ id, type, data, metadata }));
  const realFeed = async () => [
    ...(await logOf(siteB, 'site-b')),
    ...(await logOf(branch, 'site-branch')),
  ];
  /** `e` re-signed by `key` after `change`: a forgery when the key is not its origin's. */
  const resign = (e: RawEvent, key: NodeKey, change: (m: JsonObject, d: JsonObject) => void) => {
    const metadata = structuredClone(e.metadata) as JsonObject;
    const data = structuredClone(e.data) as JsonObject;
    delete metadata.sig;
    change(metadata, data);
    return sealEvent(key, { id: e.id, type: e.type, data, metadata } as EventData).data;
  };
  /** Waits until the victim's puller stops on `origin:seq` for `reason`. */
  const refusedFor = (origin: string, seq: bigint, reason: string) =>
    until(`refusal of ${origin}:${seq} (${reason})`, async () => {
      const r = (await status()).peers[0]?.refused;
      return r && r.origin === origin && r.seq === String(seq) && r.reason === reason
        ? r
        : undefined;
    });
  /** After a forgery: every origin but the victim's own is where it was, and the victim wrote
   * exactly the record of the refusal. */
  const onlyTheRecord = async (before: Record<string, string>, type: string) => {
    const now = (await status()).vector;
    for (const [origin, seq] of Object.entries(before))
      if (origin !== 'site-v') assert.equal(now[origin], seq, `${origin} moved`);
    const trail = JSON.parse(
      (await api('GET', `/v1/audit?type=${type}&origin=site-v&limit=100`)).body,
    ) as { items: unknown[] };
    assert.ok(trail.items.length > 0, `no ${type} in the victim's audit trail`);
  };

  before(async () => {
    siteB = await startMemoryNode('site-b');
    branch = await startMemoryNode('site-branch');
    // Site b, a founder, enrolls a branch site that may sign people in and audit, nothing else.
    await exec(
      siteB,
      enrollNode(
        {
          nodeId: 'site-branch',
          publicKey: testKey('site-branch').publicKey,
          families: ['authentication', 'audit'],
        },
        () => false,
      ),
    );
    await exec(siteB, registerPrincipal({ principalId: 'bob', kind: 'person', briefName: 'Bob' }));
    serve(await logOf(siteB, 'site-b'));
    fake = spawn(process.execPath, ['--import', 'tsx', 'test/support/fake-peer.ts', feedFile], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<number>((resolve) =>
      fake.stdout!.on('data', (d: Buffer) => {
        const m = /listening (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
      }),
    );
    const dataDir = join(dir, 'victim');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(
      join(dataDir, 'peers.json'),
      JSON.stringify([{ url: `http://127.0.0.1:${port}`, token: 'any-token-the-fake-accepts' }]),
      { mode: 0o600 },
    );
    victim = await startServerProcess({
      dataDir,
      nodeId: 'site-v',
      env: {
        ...productionIdentity('site-v', ['site-v', 'site-b']),
        AUTHLOG_PEER_REFUSED_RETRY_MS: '200',
        AUTHLOG_MAX_DRIFT_MS: '60000',
      },
    });
    await until('the real events of site-b', async () =>
      (await applied('site-b')) === BigInt(feed.length) ? true : undefined,
    );
  });
  after(async () => {
    await victim?.stop();
    fake?.kill('SIGTERM');
    await stopNode(siteB);
    await stopNode(branch);
    removeDir(dir);
  });

  it('other origin, its real administrator as actor, attacker-signed: refused; the real event arrives', async () => {
    const real = await logOf(siteB, 'site-b');
    const head = BigInt(real.length);
    const before = (await status()).vector;
    const forged = resign(real.at(-1)!, attacker, (m, d) => {
      m.seq = String(head + 1n);
      m.prev = eventHash(real.at(-1)!);
      m.actor = 'admin';
      d.principalId = 'mallory';
      (d.pii as JsonObject).briefName = 'Mallory';
    });
    serve([...real, { ...forged, id: '01JFORGEDMALLORY0000000000' }]);
    await refusedFor('site-b', head + 1n, 'bad-signature');
    assert.equal((await api('GET', '/v1/principals/mallory')).status, 404);
    await onlyTheRecord(before, 'ReplicationRefused');
    // The real next event of site-b still arrives.
    await exec(
      siteB,
      registerPrincipal({ principalId: 'carol', kind: 'person', briefName: 'Carol' }),
    );
    serve(await logOf(siteB, 'site-b'));
    await until('carol', async () =>
      (await api('GET', '/v1/principals/carol')).status === 200 ? true : undefined,
    );
    assert.equal(await applied('site-b'), head + 1n);
  });

  it('a real event with its actor changed: refused (the signature covers the metadata)', async () => {
    await exec(
      siteB,
      registerPrincipal({ principalId: 'dave', kind: 'person', briefName: 'Dave' }),
    );
    const real = await logOf(siteB, 'site-b');
    const last = real.at(-1)!;
    const tampered = { ...last, metadata: { ...last.metadata, actor: 'someone-else' } };
    const before = (await status()).vector;
    serve([...real.slice(0, -1), tampered]);
    await refusedFor('site-b', BigInt(real.length), 'bad-signature');
    assert.equal((await api('GET', '/v1/principals/dave')).status, 404);
    await onlyTheRecord(before, 'ReplicationRefused');
    serve(real);
    await until('dave', async () =>
      (await api('GET', '/v1/principals/dave')).status === 200 ? true : undefined,
    );
  });

  it("an event of the victim's own origin: refused", async () => {
    const own = BigInt((await status()).vector['site-v'] ?? '0');
    const template = (await logOf(siteB, 'site-b')).at(-1)!;
    const forged = resign(template, attacker, (m, d) => {
      m.origin = 'site-v';
      m.seq = String(own + 1n);
      m.hlc = String(m.hlc).replace('@site-b', '@site-v');
      d.principalId = 'eve';
    });
    const before = (await status()).vector;
    serve([...(await logOf(siteB, 'site-b')), forged]);
    await refusedFor('site-v', own + 1n, 'bad-signature');
    assert.equal((await api('GET', '/v1/principals/eve')).status, 404);
    await onlyTheRecord(before, 'ReplicationRefused');
    serve(await logOf(siteB, 'site-b'));
  });

  it('two validly signed events for one seq: equivocation kept as evidence and flagged', async () => {
    const real = await logOf(siteB, 'site-b');
    const victimOf = real[1]!;
    // Site b's own key signs a second, different event as seq 2 (a compromised site, or its key).
    const twin = resign(victimOf, testKey('site-b'), (_m, d) => {
      (d.pii as JsonObject).briefName = 'Bob the Second';
    });
    serve([...real, twin]);
    await refusedFor('site-b', 2n, 'equivocation');
    const cluster = await until('the flag', async () => {
      const c = JSON.parse((await api('GET', '/v1/cluster')).body) as {
        equivocations: { origin: string; seq: string }[];
      };
      return c.equivocations.length > 0 ? c : undefined;
    });
    assert.deepEqual(cluster.equivocations, [{ origin: 'site-b', seq: '2' }]);
    const bob = JSON.parse((await api('GET', '/v1/principals/bob')).body) as { briefName: string };
    assert.equal(bob.briefName, 'Bob', 'the branch this node holds stands');
    const metrics = (await api('GET', '/metrics')).body;
    assert.match(
      metrics,
      /authlog_replication_refused_total\{peer="[^"]+",reason="equivocation"\} 1/,
    );
    assert.match(metrics, /authlog_equivocating_origins 1/);
    serve(real);
  });

  it('forged seqs, then the real ones: none of the forged counted as present, all real ones kept', async () => {
    const start = BigInt((await logOf(siteB, 'site-b')).length);
    for (const name of ['f1', 'f2', 'f3', 'f4', 'f5'])
      await exec(siteB, registerPrincipal({ principalId: name, kind: 'person', briefName: name }));
    const real = await logOf(siteB, 'site-b');
    const forged = real.slice(Number(start), Number(start) + 4).map((e) =>
      resign(e, attacker, (_m, d) => {
        d.principalId = `x-${String(d.principalId)}`;
      }),
    );
    serve([...real.slice(0, Number(start)), ...forged]);
    await refusedFor('site-b', start + 1n, 'bad-signature');
    assert.equal(await applied('site-b'), start);
    serve(real);
    await until('all five real events', async () =>
      (await applied('site-b')) === start + 5n ? true : undefined,
    );
    for (const name of ['f1', 'f5'])
      assert.equal((await api('GET', `/v1/principals/${name}`)).status, 200, name);
    assert.equal((await api('GET', '/v1/principals/x-f1')).status, 404);
  });

  it('a far-future clock, even validly signed: held, not stored; the in-range event arrives', async () => {
    await exec(siteB, registerPrincipal({ principalId: 'gus', kind: 'person', briefName: 'Gus' }));
    const real = await logOf(siteB, 'site-b');
    const last = real.at(-1)!;
    const future = resign(last, testKey('site-b'), (m) => {
      m.hlc = encodeHlc({ wall: 0xfffffffffffe, counter: 0, node: 'site-b' });
    });
    serve([...real.slice(0, -1), future]);
    const held = await until('the hold', async () => (await status()).peers[0]?.held ?? undefined);
    assert.equal(held.origin, 'site-b');
    assert.equal(held.seq, String(real.length));
    assert.match(held.detail, /beyond this node's drift limit/);
    assert.equal((await api('GET', '/v1/principals/gus')).status, 404);
    assert.match((await api('GET', '/metrics')).body, /authlog_replication_held\{peer="[^"]+"\} 1/);
    // The clock of the victim did not move: its own next write is stamped near now.
    assert.equal(
      (
        await api('POST', '/v1/principals', {
          principalId: 'hank',
          kind: 'person',
          briefName: 'Hank',
        })
      ).status,
      201,
    );
    const own = JSON.parse(
      (await api('GET', '/v1/audit?origin=site-v&type=PrincipalRegistered&limit=100')).body,
    ) as { items: { hlc: string }[] };
    const wall = decodeHlc(own.items.at(-1)!.hlc).wall;
    assert.ok(Math.abs(wall - Date.now()) < 60_000, `own clock at ${wall}, now ${Date.now()}`);
    serve(real);
    await until('gus', async () =>
      (await api('GET', '/v1/principals/gus')).status === 200 ? true : undefined,
    );
  });

  it('an event of a family its origin may not write: refused at the same seq on every node', async () => {
    // The branch may write audit records: accepted. Then a grant: refused.
    await exec(branch, recordAccessDenied({ operation: 'GET /x', privilege: null, suppressed: 0 }));
    await pull(siteB, branch);
    await exec(branch, addRoleMember({ roleId: 'administrators', principalId: 'bob' }));
    const before = (await status()).vector;
    serve(await realFeed());
    await refusedFor('site-branch', 2n, 'family-not-allowed');
    assert.equal((await status()).vector['site-branch'], '1');
    await onlyTheRecord({ ...before, 'site-branch': '1' }, 'ReplicationRefused');
    const check = JSON.parse(
      (
        await api('POST', '/v1/authz/check', {
          principalId: 'bob',
          privilege: 'authlog.admin',
        })
      ).body,
    ) as { allow: boolean; reason: string };
    assert.equal(check.allow, false, check.reason);
  });
});
