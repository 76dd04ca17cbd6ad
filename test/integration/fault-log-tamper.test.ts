// Threat: someone with the data folder alters or removes an event in the stored log — one byte
// flipped in an event's data on disk (a disk fault, or an edit meant to grant someone a role after
// the fact), or a row deleted in the middle of an origin's stream. The node used to say ready and
// apply half the log. Every event is signed by its origin and names the hash of its origin's
// previous one, so each origin's stream is a hash chain (RFC 9162's tamper-evident logs, with a
// signature on each link): `authlog verify --log` names the first event that does not check and
// exits 1; a node whose log breaks does not become ready (`/v1/status` names the event, requests
// are refused with LOG_BROKEN); a rebuild stops at the event and leaves the live read model alone.
// OWASP ASVS 5.0 V16.4 (log protection: logs cannot be modified without detection).
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { projections } from '../../projections/index.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { buildApp } from '../../src/http/app.ts';
import { LogBrokenError } from '../../src/node/chain.ts';
import { type AuthlogNode, startNode } from '../../src/node/node.ts';
import { rebuildReadModel } from '../../src/node/rebuild.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { auth, TOKEN, UNTHROTTLED } from '../support/app.ts';
import { productionIdentity, testFounders, testTrust } from '../support/keys.ts';
import { removeDir, runCli, tempDir } from '../support/process.ts';

const NODE = 'site-t';
const EVENTS = 30;

type Row = { id: string; revision: number };

/** A data folder holding EVENTS events of NODE, written by a real node, which is then stopped. */
const dataFolder = async (dirs: string[]) => {
  const dir = tempDir('fault-log');
  dirs.push(dir);
  const node = await startNode({
    nodeId: NODE,
    store: openSqliteStore({ path: join(dir, 'events.sqlite') }),
    readModelPath: join(dir, 'readmodel.sqlite'),
    ...testTrust(NODE),
  });
  await node.ready;
  for (let i = 1; i <= EVENTS; i++)
    await node.execute(
      registerPrincipal({ principalId: `p${i}`, kind: 'person', briefName: `Person number ${i}` }),
      { actor: 'system' },
    );
  await node.close();
  await node.store.close();
  return dir;
};

const eventAt = (dir: string, seq: number): Row => {
  const db = new Database(join(dir, 'events.sqlite'), { readonly: true });
  try {
    return db
      .prepare('SELECT id, revision FROM events WHERE stream = ? AND revision = ?')
      .get(`origin-${NODE}`, seq - 1) as Row;
  } finally {
    db.close();
  }
};

/** Flips one byte of the file on disk inside the stored data of the event naming `marker` (and
 * of any stale copy SQLite left in a free page). */
const flipByteOf = (dir: string, marker: string) => {
  const path = join(dir, 'events.sqlite');
  const bytes = readFileSync(path);
  const needle = Buffer.from(`"${marker}"`);
  let flipped = 0;
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) {
    // "Person…" becomes "person…": still valid JSON, no longer what was signed.
    bytes.writeUInt8(bytes.readUInt8(at + 1) ^ 0x20, at + 1);
    flipped += 1;
  }
  assert.ok(flipped > 0, `${marker} is in the file`);
  writeFileSync(path, bytes);
};

const deleteEvent = (dir: string, seq: number) => {
  const db = new Database(join(dir, 'events.sqlite'));
  try {
    db.prepare('DELETE FROM events WHERE stream = ? AND revision = ?').run(
      `origin-${NODE}`,
      seq - 1,
    );
  } finally {
    db.close();
  }
};

const verifyLog = (dir: string) =>
  runCli(
    ['verify', '--log', '--data-dir', dir, '--node-id', NODE, '--json'],
    productionIdentity(NODE),
  );

const restart = async (dir: string, options: { readModel?: string; tailCheck?: number } = {}) => {
  const node = await startNode({
    nodeId: NODE,
    store: openSqliteStore({ path: join(dir, 'events.sqlite') }),
    readModelPath: join(dir, options.readModel ?? 'readmodel.sqlite'),
    ...testTrust(NODE),
    ...(options.tailCheck !== undefined ? { tailCheck: options.tailCheck } : {}),
  });
  return node;
};

const stop = async (node: AuthlogNode) => {
  await node.close();
  await node.store.close();
};

/** Waits until the node is ready or names a break. */
const settled = async (node: AuthlogNode) => {
  const deadline = Date.now() + 10_000;
  while (!node.isReady() && node.status().logBreak === null) {
    assert.ok(Date.now() < deadline, 'the node neither became ready nor named a break');
    await new Promise((r) => setTimeout(r, 20));
  }
  return node.status();
};

describe('tamper evidence of the event log', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));

  it('an intact log verifies: every origin counted, its head named, exit 0; the node starts', async () => {
    const dir = await dataFolder(dirs);
    const r = await verifyLog(dir);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.verdict, 'OK');
    assert.equal(out.events, EVENTS);
    assert.deepEqual(out.breaks, []);
    assert.equal(out.origins.length, 1);
    assert.equal(out.origins[0].origin, NODE);
    assert.equal(out.origins[0].events, EVENTS);
    assert.equal(out.origins[0].seq, String(EVENTS));
    assert.match(out.origins[0].hash, /^[A-Za-z0-9_-]{43}$/);

    const node = await restart(dir);
    const status = await settled(node);
    assert.equal(status.ready, true);
    assert.equal(status.logBreak, null);
    await stop(node);
  });

  it('a flipped byte in the middle: verify names the event, start refuses ready, rebuild refuses', async () => {
    const dir = await dataFolder(dirs);
    const target = eventAt(dir, 12);
    flipByteOf(dir, 'Person number 12');

    // The auditor's check: the event named, exit 1.
    const r = await verifyLog(dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.verdict, 'BROKEN');
    assert.equal(out.breaks.length, 1);
    assert.deepEqual(
      { ...out.breaks[0], detail: undefined, position: undefined },
      {
        origin: NODE,
        seq: '12',
        eventId: target.id,
        reason: 'bad-signature',
        detail: undefined,
        position: undefined,
      },
    );
    const text = await runCli(
      ['verify', '--log', '--data-dir', dir, '--node-id', NODE],
      productionIdentity(NODE),
    );
    assert.equal(text.code, 1);
    assert.match(
      text.stdout,
      new RegExp(`break: ${NODE}:12 \\(event ${target.id}\\): bad-signature`),
    );
    assert.match(text.stdout, /BROKEN/);

    // The read model already holds the event (applied before the flip), so the tail check finds
    // it at start: 12 of 30 is within the last 64.
    const node = await restart(dir);
    const status = await settled(node);
    assert.equal(status.ready, false);
    assert.equal(status.logBreak?.eventId, target.id);
    assert.equal(status.logBreak?.reason, 'bad-signature');
    await assert.rejects(
      node.execute(registerPrincipal({ principalId: 'late', kind: 'person', briefName: 'Late' }), {
        actor: 'system',
      }),
      (err: Error & { code?: string }) => err.code === 'LOG_BROKEN',
    );
    const http = buildApp({ node, operatorToken: TOKEN, logger: false, edge: UNTHROTTLED });
    try {
      const s = await http.inject({ url: '/v1/status', headers: auth });
      assert.equal(s.statusCode, 200, s.body);
      assert.equal(s.json().ready, false);
      assert.equal(s.json().logBreak.eventId, target.id);
      assert.equal(s.json().logBreak.seq, '12');
      const w = await http.inject({
        method: 'POST',
        url: '/v1/principals',
        headers: auth,
        payload: { kind: 'person', briefName: 'Late' },
      });
      assert.equal(w.statusCode, 503, w.body);
      assert.equal(w.json().code, 'LOG_BROKEN');
      assert.match(w.json().detail, new RegExp(target.id));
    } finally {
      await http.close();
      await stop(node);
    }

    // A rebuild stops at the event, names it, and leaves the live read model as it was.
    const live = join(dir, 'readmodel.sqlite');
    const before = statSync(live).mtimeMs;
    const store = openSqliteStore({ path: join(dir, 'events.sqlite') });
    try {
      await assert.rejects(
        rebuildReadModel({ store, path: live, projections, founders: testFounders }),
        (err) =>
          err instanceof LogBrokenError &&
          err.at.eventId === target.id &&
          err.at.reason === 'bad-signature',
      );
    } finally {
      await store.close();
    }
    assert.equal(statSync(live).mtimeMs, before);
    const cli = await runCli(
      ['rebuild', '--data-dir', dir, '--node-id', NODE],
      productionIdentity(NODE),
    );
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.match(cli.stderr, new RegExp(`${NODE}:12 \\(event ${target.id}\\): bad-signature`));
  });

  it('a flipped byte deeper than the tail: the catch-up of a fresh read model stops at it, nothing after applied', async () => {
    const dir = await dataFolder(dirs);
    const target = eventAt(dir, 8);
    flipByteOf(dir, 'Person number 8');
    // A read model built from nothing (a new file): everything goes through the catch-up.
    const node = await restart(dir, { readModel: 'fresh.sqlite', tailCheck: 4 });
    const status = await settled(node);
    assert.equal(status.ready, false);
    assert.equal(status.logBreak?.eventId, target.id);
    assert.equal(status.logBreak?.reason, 'bad-signature');
    assert.equal(status.applied[NODE], '7', 'what came before is applied, nothing from it on');
    await stop(node);
  });

  it('an event removed from the middle: verify, start and rebuild name the gap', async () => {
    const dir = await dataFolder(dirs);
    const next = eventAt(dir, 16);
    deleteEvent(dir, 15);

    const r = await verifyLog(dir);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.breaks.length, 1);
    assert.equal(out.breaks[0].seq, '16');
    assert.equal(out.breaks[0].eventId, next.id);
    assert.equal(out.breaks[0].reason, 'gap');
    assert.match(out.breaks[0].detail, /after site-t:14 .* 1 missing/);
    assert.equal(out.origins[0].seq, '14', 'the head is the last event that checks');

    const node = await restart(dir);
    const status = await settled(node);
    assert.equal(status.ready, false);
    assert.equal(status.logBreak?.reason, 'gap');
    assert.equal(status.logBreak?.seq, '16');
    await stop(node);

    const fresh = await restart(dir, { readModel: 'fresh.sqlite', tailCheck: 4 });
    const s2 = await settled(fresh);
    assert.equal(s2.logBreak?.reason, 'gap');
    assert.equal(s2.logBreak?.eventId, next.id);
    assert.equal(s2.applied[NODE], '14');
    await stop(fresh);

    const store = openSqliteStore({ path: join(dir, 'events.sqlite') });
    try {
      await assert.rejects(
        rebuildReadModel({ store, path: ':memory:', projections, founders: testFounders }),
        (err) => err instanceof LogBrokenError && err.at.reason === 'gap' && err.at.seq === '16',
      );
    } finally {
      await store.close();
    }
  });

  it('events cut from the end of the log: the read model has applied more than the log holds', async () => {
    const dir = await dataFolder(dirs);
    deleteEvent(dir, EVENTS);
    const node = await restart(dir);
    const status = await settled(node);
    assert.equal(status.ready, false);
    assert.equal(status.logBreak?.reason, 'truncated');
    assert.equal(status.logBreak?.seq, String(EVENTS));
    await stop(node);
  });
});
