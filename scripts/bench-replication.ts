// npm run bench:replication — two nodes talking HTTP on loopback (in one process, so one clock
// times both ends): replication lag p50/p99 while node A takes a steady write rate, and catch-up
// throughput of node B after being cut off for N events, next to B's own local rebuild of the
// same events (the baseline, measured in the same run). Last line: one JSON object.
import { join } from 'node:path';
import pino from 'pino';
import { projections } from '../projections/index.ts';
import { registerPrincipal } from '../src/authn/principals.ts';
import { hashSecret, issueAccessToken, newTokenSecret } from '../src/authn/tokens.ts';
import { addRoleMember, createRole, setGrant } from '../src/authz/commands.ts';
import { buildApp } from '../src/http/app.ts';
import { type AuthlogNode, startNode } from '../src/node/node.ts';
import { rebuildReadModel } from '../src/readmodel/rebuild.ts';
import { startPuller } from '../src/replication/puller.ts';
import { seqOf } from '../src/replication/version-vector.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { envInt, note, perSecond, round, scratchDir } from './bench/util.ts';

const RATE = envInt('BENCH_WRITES_PER_SEC', 1000);
const SECONDS = envInt('BENCH_SECONDS', 10);
const CATCH_UP = envInt('BENCH_CATCHUP_EVENTS', 100_000);
const OPERATOR = 'bench-operator-token-0123456789abcdefghij';
const log = pino({ level: 'silent' });

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

const main = async () => {
  const scratch = scratchDir();
  const open = async (id: string) => {
    const node = await startNode({
      nodeId: id,
      store: openSqliteStore({ path: scratch.file(`${id}-events.sqlite`) }),
      readModelPath: scratch.file(`${id}-rm.sqlite`),
      log,
    });
    await node.ready;
    return node;
  };
  const a = await open('a');
  const b = await open('b');
  const appA = buildApp({
    node: a,
    operatorToken: OPERATOR,
    logger: false,
    edge: { rateLimit: { max: 100_000_000, windowMs: 60_000 } },
  });
  const urlA = await appA.listen({ host: '127.0.0.1', port: 0 });

  // B pulls as a replication principal, the way production peers do.
  const sys = { actor: 'system' };
  const token = newTokenSecret();
  await a.execute(
    registerPrincipal({ principalId: 'replicator', kind: 'service', briefName: 'replicator' }),
    sys,
  );
  await a.execute(createRole({ roleId: 'replicators', name: 'replicators' }), sys);
  await a.execute(
    setGrant({ roleId: 'replicators', privilege: 'authlog.replicate', effect: 'grant' }),
    sys,
  );
  await a.execute(addRoleMember({ roleId: 'replicators', principalId: 'replicator' }), sys);
  await a.execute(
    issueAccessToken({
      credentialId: 'bench',
      principalId: 'replicator',
      name: 'bench',
      secretHash: hashSecret(token),
    }),
    sys,
  );

  const watch = (node: AuthlogNode, origin: string, onSeq: (seq: bigint, at: number) => void) => {
    let stop = false;
    void (async () => {
      while (!stop) {
        await node.nextCommit(1000);
        onSeq(seqOf(node.projector.applied, origin), performance.now());
      }
    })();
    return () => {
      stop = true;
    };
  };

  // Phase 1: lag at a steady write rate.
  let puller = startPuller({ node: b, peer: { url: urlA, token }, log, waitMs: 5000 });
  const ackAt = new Map<bigint, number>();
  const lags: number[] = [];
  let seen = 0n;
  const unwatch = watch(b, 'a', (seq, at) => {
    for (let s = seen + 1n; s <= seq; s++) {
      const t = ackAt.get(s);
      if (t !== undefined) {
        lags.push(at - t);
        ackAt.delete(s);
      }
    }
    if (seq > seen) seen = seq;
  });
  note(`lag phase: ${RATE} writes/s for ${SECONDS} s`);
  const started = performance.now();
  const total = RATE * SECONDS;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      a
        .execute(
          registerPrincipal({ principalId: `lag-${i}`, kind: 'person', briefName: `lag ${i}` }),
          sys,
        )
        .then((r) => {
          ackAt.set(r.events[0]!.seq, performance.now());
        }),
    );
  }
  await Promise.all(pending);
  const achieved = perSecond(total, performance.now() - started);
  while (ackAt.size > 0 && performance.now() - started < (SECONDS + 30) * 1000)
    await new Promise((r) => setTimeout(r, 20));
  unwatch();
  await puller.stop();
  const p50 = round(percentile(lags, 50), 1);
  const p99 = round(percentile(lags, 99), 1);
  note(`lag over ${lags.length} writes at ${achieved}/s: p50 ${p50} ms, p99 ${p99} ms`);

  // Phase 2: B is cut off while A takes CATCH_UP more events, then catches up.
  note(`catch-up phase: writing ${CATCH_UP} events at A while B is cut off`);
  for (let i = 0; i < CATCH_UP; i += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, CATCH_UP - i) }, (_, k) =>
        a.execute(
          registerPrincipal({
            principalId: `cu-${i + k}`,
            kind: 'person',
            briefName: `cu ${i + k}`,
          }),
          sys,
        ),
      ),
    );
  }
  const target = seqOf(a.projector.applied, 'a');
  const from = seqOf(b.projector.applied, 'a');
  const catchStart = performance.now();
  puller = startPuller({ node: b, peer: { url: urlA, token }, log, limit: 5000, waitMs: 1000 });
  while (seqOf(b.projector.applied, 'a') < target) await b.nextCommit(1000);
  const catchMs = performance.now() - catchStart;
  await puller.stop();
  const caught = Number(target - from);
  const catchUpRate = perSecond(caught, catchMs);
  note(`catch-up: ${caught} events in ${(catchMs / 1000).toFixed(1)} s = ${catchUpRate}/s`);

  // Baseline: B rebuilding its read model from its own log, which now holds the same events.
  const rebuilt = await rebuildReadModel({
    store: b.store,
    path: join(scratch.dir, 'b-rebuild.sqlite'),
    projections,
  });
  const rebuildRate = perSecond(rebuilt.events, rebuilt.ms);
  note(
    `local rebuild of B: ${rebuilt.events} events in ${(rebuilt.ms / 1000).toFixed(1)} s = ${rebuildRate}/s`,
  );
  if (rebuilt.digest !== b.digest())
    throw new Error('rebuilt read model differs from the replicated one');

  await appA.close();
  for (const n of [a, b]) {
    await n.close();
    await n.store.close();
  }
  scratch.remove();
  console.log(
    JSON.stringify({
      bench: 'replication',
      writesPerSec: achieved,
      lagP50Ms: p50,
      lagP99Ms: p99,
      catchUpEvents: caught,
      catchUpPerSec: catchUpRate,
      rebuildPerSec: rebuildRate,
      ratioCatchUpVsRebuild: round(catchUpRate / rebuildRate),
    }),
  );
};

await main();
