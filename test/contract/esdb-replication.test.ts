// authlog nodes on EventStoreDB, in-process: several nodes of one site sharing one store (each
// its own origin stream, each projecting `$all` into its own read model), replicated events
// appended by whichever node ingests them first, and a two-site replication smoke test. Always
// on FAKE servers (test/support/esdb-fake); the smoke test also runs against a real server when
// ESDB_CONNECTION_STRING is set (site 2 on ESDB_CONNECTION_STRING_SITE2, or on the embedded
// store when that is not set). Replication between sites goes through the real ingest path;
// only the HTTP hop (another issue) is left out.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import { getPrincipal } from '../../projections/principals.ts';
import { changeProfile, registerPrincipal } from '../../src/authn/principals.ts';
import { AppError } from '../../src/errors.ts';
import { ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
import type { Command } from '../../src/node/command.ts';
import { ingest } from '../../src/node/ingest.ts';
import { type AuthlogNode, startNode } from '../../src/node/node.ts';
import type { RawEvent } from '../../src/node/trust.ts';
import { IdempotencyError } from '../../src/store/errors.ts';
import { openEsdbStore } from '../../src/store/esdb/esdb-store.ts';
import type { EventStore } from '../../src/store/port.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { type FakeEsdb, startFakeEsdb } from '../support/esdb-fake/fake-server.ts';
import { pull, waitApplied } from '../support/in-process.ts';
import { testTrust } from '../support/keys.ts';

const exec = <R>(node: AuthlogNode, command: Command<R>) =>
  node.execute(command, { actor: 'system' });
const suffix = () => randomBytes(3).toString('hex');

/** Starts nodes and fakes, and stops them all (nodes first) after each test. */
const harness = () => {
  const nodes: AuthlogNode[] = [];
  const fakes: FakeEsdb[] = [];
  afterEach(async () => {
    for (const node of nodes.splice(0)) {
      await node.close();
      await node.store.close();
    }
    for (const fake of fakes.splice(0)) await fake.stop();
  });
  return {
    fake: async () => {
      const fake = await startFakeEsdb();
      fakes.push(fake);
      return fake;
    },
    node: async (nodeId: string, store: EventStore) => {
      const node = await startNode({
        nodeId,
        store,
        readModelPath: ':memory:',
        ...testTrust(nodeId),
      });
      nodes.push(node);
      await node.ready;
      return node;
    },
  };
};

const originEvents = async (node: AuthlogNode): Promise<RawEvent[]> =>
  await node.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX });
/** The real ingest path of `node`, on `store` (the node's own, or one that stands in for it). */
const ingestInto = (node: AuthlogNode, store: EventStore, events: readonly RawEvent[]) =>
  ingest(
    {
      store,
      trust: node.trust,
      settle: async () => {},
      now: Date.now,
      maxDriftMs: 60_000,
      applied: () => node.appliedVector(),
    },
    events,
  );

describe('several authlog nodes sharing one EventStoreDB (fake server)', () => {
  const h = harness();
  const esdb = (fake: FakeEsdb) => openEsdbStore({ connectionString: fake.connectionString });

  it('each writes its own origin stream and projects the others from $all', async () => {
    const fake = await h.fake();
    const a = await h.node('site1-a', esdb(fake));
    const b = await h.node('site1-b', esdb(fake));
    await exec(a, registerPrincipal({ principalId: 'pa', kind: 'person', briefName: 'From A' }));
    await exec(b, registerPrincipal({ principalId: 'pb', kind: 'person', briefName: 'From B' }));
    await waitApplied(a, b.projector.applied);
    await waitApplied(b, a.projector.applied);
    assert.equal(getPrincipal(b.read, 'pa')?.briefName, 'From A');
    assert.equal(getPrincipal(a.read, 'pb')?.briefName, 'From B');
    assert.equal(a.digest(), b.digest());
    assert.deepEqual(
      [...new Set(fake.log.events.map((e) => e.stream).filter((s) => !s.startsWith('$')))].sort(),
      ['origin-site1-a', 'origin-site1-b'],
    );
  });

  it('replicated events are stored once, whichever node ingests them first', async () => {
    const fake = await h.fake();
    const a = await h.node('site1-a', esdb(fake));
    const b = await h.node('site1-b', esdb(fake));
    const remote = await h.node('site2-a', openSqliteStore({ path: ':memory:' }));
    for (let i = 0; i < 5; i++) {
      await exec(
        remote,
        registerPrincipal({ principalId: `r${i}`, kind: 'person', briefName: `R${i}` }),
      );
    }
    const events = await originEvents(remote);
    // Both pullers deliver the same page at the same time, as after a partition heals.
    const [byA, byB] = await Promise.all([
      ingestInto(a, a.store, events),
      ingestInto(b, b.store, events),
    ]);
    assert.equal(byA.appended + byA.present, events.length);
    assert.equal(byB.appended + byB.present, events.length);
    assert.equal(fake.log.stream('origin-site2-a').length, events.length, 'stored twice');
    await waitApplied(a, remote.projector.applied);
    await waitApplied(b, remote.projector.applied);
    assert.equal(a.digest(), remote.digest());
    assert.equal(b.digest(), remote.digest());
    // A later page, once one of them has the earlier one, appends only what is new.
    await exec(remote, registerPrincipal({ principalId: 'r5', kind: 'person', briefName: 'R5' }));
    const again = await ingestInto(b, b.store, await originEvents(remote));
    assert.deepEqual([again.appended, again.present], [1, events.length]);
  });

  it('a puller whose page reaches past what another puller just stored moves on', async () => {
    const fake = await h.fake();
    const a = await h.node('site1-a', esdb(fake));
    const remote = await h.node('site2-a', openSqliteStore({ path: ':memory:' }));
    for (let i = 0; i < 4; i++) {
      await exec(
        remote,
        registerPrincipal({ principalId: `r${i}`, kind: 'person', briefName: `R${i}` }),
      );
    }
    const events = await originEvents(remote);
    // Another node of the site appends the first two between this puller's look at the
    // stream and its append.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gated: EventStore = {
      ...a.store,
      append: async (...args) => {
        await gate;
        return a.store.append(...args);
      },
    };
    const racing = ingestInto(a, gated, events);
    await ingestInto(a, a.store, events.slice(0, 2));
    release();
    await assert.doesNotReject(racing, IdempotencyError);
    assert.equal(fake.log.stream('origin-site2-a').length, 4);
  });

  it('a second process with the same node id fails loudly instead of forking the stream', async () => {
    const fake = await h.fake();
    const first = await h.node('site1-a', esdb(fake));
    const twin = await h.node('site1-a', esdb(fake));
    const results = await Promise.allSettled([
      exec(first, registerPrincipal({ principalId: 'x1', kind: 'person', briefName: 'One' })),
      exec(twin, registerPrincipal({ principalId: 'x2', kind: 'person', briefName: 'Two' })),
    ]);
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    assert.equal(failed.length, 1, 'both writers succeeded: the stream forked or one was lost');
    assert.ok(failed[0] instanceof AppError && failed[0].code === 'NODE_CONFLICT', `${failed[0]}`);
    assert.equal(fake.log.stream('origin-site1-a').length, 1);
  });
});

// Two sites, each with its own store and a node on it; site 1 has a second node on the same
// store. Writes at both sites, including concurrent changes of the same principal, then an
// exchange both ways: every node must end with the same read model.
const twoSiteSmoke = async (
  h: ReturnType<typeof harness>,
  site1: () => EventStore,
  site2: () => EventStore,
) => {
  const run = suffix();
  const a1 = await h.node(`site1-${run}-a`, site1());
  const a2 = await h.node(`site1-${run}-b`, site1());
  const b1 = await h.node(`site2-${run}-a`, site2());
  const p = `p-${run}`;
  await exec(a1, registerPrincipal({ principalId: p, kind: 'person', briefName: 'Ann' }));
  await exec(b1, registerPrincipal({ principalId: `${p}-2`, kind: 'person', briefName: 'Bo' }));
  await pull(a1, b1);
  await exec(a2, changeProfile({ principalId: p, fullName: 'Ann at site 1' }));
  await exec(b1, changeProfile({ principalId: p, fullName: 'Ann at site 2' }));
  await pull(b1, a1);
  await waitApplied(a1, a2.projector.applied);
  await pull(a1, b1);
  await waitApplied(a2, a1.projector.applied);
  assert.equal(a1.digest(), b1.digest());
  assert.equal(a2.digest(), b1.digest());
  const names = [a1, a2, b1].map((n) => getPrincipal(n.read, p)?.fullName);
  assert.equal(new Set(names).size, 1, `sites disagree: ${names.join(' / ')}`);
};

describe('two-site replication smoke test', () => {
  const h = harness();

  it('on two fake EventStoreDB servers', async () => {
    const [one, two] = [await h.fake(), await h.fake()];
    await twoSiteSmoke(
      h,
      () => openEsdbStore({ connectionString: one.connectionString }),
      () => openEsdbStore({ connectionString: two.connectionString }),
    );
  });

  const real = process.env.ESDB_CONNECTION_STRING;
  const real2 = process.env.ESDB_CONNECTION_STRING_SITE2;
  it(`on a real EventStoreDB (site 2 on ${real2 ? 'a second real server' : 'the embedded store'})`, {
    skip: real
      ? false
      : 'ESDB_CONNECTION_STRING is not set (e.g. esdb://127.0.0.1:2113?tls=false); ran on fake servers only',
  }, async () => {
    await twoSiteSmoke(
      h,
      () => openEsdbStore({ connectionString: real! }),
      () =>
        real2 ? openEsdbStore({ connectionString: real2 }) : openSqliteStore({ path: ':memory:' }),
    );
  });
});
