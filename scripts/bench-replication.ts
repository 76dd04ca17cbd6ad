// npm run bench:replication — two nodes talking HTTP on loopback: replication lag p50/p99 while
// node A takes a steady write rate, and catch-up throughput of node B after being cut off for N
// events, next to B's own local rebuild of the same events (the baseline, measured in the same
// run). B runs in a worker thread (scripts/bench/replica.ts): its own event loop, as a second
// node has its own process, on a clock shared with A. A and B found the cluster together, so B
// checks every event of A (signature, chain, family) before storing it, as any node does, and
// its rebuild checks every signature and chain it reads; what ingest's check costs per event is
// timed apart on B's stored events, after the rebuild.
// Last line: one JSON object.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { registerPrincipal } from '../src/authn/principals.ts';
import { hashSecret, issueAccessToken, newTokenSecret } from '../src/authn/tokens.ts';
import { addRoleMember, createRole, setGrant } from '../src/authz/commands.ts';
import { seqOf } from '../src/clock/version-vector.ts';
import { generateNodeKey } from '../src/events/signature.ts';
import { buildApp } from '../src/http/app.ts';
import { startNode } from '../src/node/node.ts';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import type { ReplicaCommand, ReplicaData, ReplicaReport } from './bench/replica.ts';
import { envInt, note, now, perSecond, round, scratchDir } from './bench/util.ts';

const RATE = envInt('BENCH_WRITES_PER_SEC', 1000);
const SECONDS = envInt('BENCH_SECONDS', 10);
const CATCH_UP = envInt('BENCH_CATCHUP_EVENTS', 100_000);
const VERIFY = envInt('BENCH_VERIFY_EVENTS', 20_000);
const OPERATOR = 'bench-operator-token-0123456789abcdefghij';
const log = pino({ level: 'silent' });

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

type Replica = {
  send(command: ReplicaCommand): void;
  /** The next report of this kind (reports of other kinds go to `onApplied`). */
  next<K extends ReplicaReport['kind']>(kind: K): Promise<Extract<ReplicaReport, { kind: K }>>;
  onApplied: (seq: bigint, at: number) => void;
  applied: bigint;
  close(): Promise<void>;
};

const startReplica = async (data: ReplicaData): Promise<Replica> => {
  // The worker loads TypeScript through tsx's API: a worker's entry is resolved before any
  // `--import` hook of its own could run.
  const entry = JSON.stringify(new URL('./bench/replica.ts', import.meta.url).href);
  const worker = new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); });`,
    { eval: true, workerData: data },
  );
  const waiting = new Map<string, (r: ReplicaReport) => void>();
  const replica: Replica = {
    send: (command) => worker.postMessage(command),
    next: (kind) =>
      new Promise((resolve) => waiting.set(kind, resolve as (r: ReplicaReport) => void)),
    onApplied: () => {},
    applied: 0n,
    close: async () => {},
  };
  worker.on('message', (report: ReplicaReport) => {
    if (report.kind === 'applied') {
      replica.applied = BigInt(report.seq);
      replica.onApplied(replica.applied, report.at);
      return;
    }
    const key = report.kind === 'done' ? `done:${report.of}` : report.kind;
    const resolve = waiting.get(report.kind) ?? waiting.get(key);
    waiting.delete(report.kind);
    resolve?.(report);
  });
  replica.close = async () => {
    const done = replica.next('done');
    replica.send({ kind: 'close' });
    await done;
    await worker.terminate();
  };
  worker.on('error', (err) => {
    console.error(err);
    process.exit(1);
  });
  await replica.next('ready');
  return replica;
};

const main = async () => {
  const scratch = scratchDir();
  // A cluster founded by both nodes: B verifies every event of A against A's key.
  const keyA = generateNodeKey();
  const keyB = generateNodeKey();
  const founders: Record<string, string> = { a: keyA.key.publicKey, b: keyB.key.publicKey };
  const a = await startNode({
    nodeId: 'a',
    store: openSqliteStore({ path: scratch.file('a-events.sqlite') }),
    readModelPath: scratch.file('a-rm.sqlite'),
    key: keyA.key,
    founders: (id) => founders[id],
    log,
  });
  await a.ready;
  const b = await startReplica({
    storePath: scratch.file('b-events.sqlite'),
    readModelPath: scratch.file('b-rm.sqlite'),
    key: keyB.line,
    founders,
  });
  const command = async (c: ReplicaCommand) => {
    const done = b.next('done');
    b.send(c);
    await done;
  };
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

  // Phase 1: lag at a steady write rate.
  await command({ kind: 'pull', url: urlA, token, limit: 500, waitMs: 5000 });
  const ackAt = new Map<bigint, number>();
  const lags: number[] = [];
  let seen = b.applied;
  b.onApplied = (seq, at) => {
    for (let s = seen + 1n; s <= seq; s++) {
      const t = ackAt.get(s);
      if (t !== undefined) {
        lags.push(at - t);
        ackAt.delete(s);
      }
    }
    if (seq > seen) seen = seq;
  };
  note(`lag phase: ${RATE} writes/s for ${SECONDS} s`);
  const started = performance.now();
  const total = RATE * SECONDS;
  const pending: Promise<void>[] = [];
  const write = (i: number) =>
    pending.push(
      a
        .execute(
          registerPrincipal({ principalId: `lag-${i}`, kind: 'person', briefName: `lag ${i}` }),
          sys,
        )
        .then((r) => {
          ackAt.set(r.events[0]!.seq, now());
        }),
    );
  const due = (i: number) => started + (i * 1000) / RATE;
  // Like a server's clients: every write due by now is sent in one turn of the event loop (as
  // requests that arrived while it was busy are read together), then the loop yields to I/O.
  // A loop of microtasks alone would starve A's HTTP server, the feed B pulls, until it caught up.
  for (let i = 0; i < total; ) {
    const wait = due(i) - performance.now();
    if (wait > 1) {
      await new Promise((r) => setTimeout(r, wait));
      continue;
    }
    const until = performance.now() + 1;
    while (i < total && due(i) <= until) write(i++);
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  const achieved = perSecond(total, performance.now() - started);
  while (ackAt.size > 0 && performance.now() - started < (SECONDS + 30) * 1000)
    await new Promise((r) => setTimeout(r, 20));
  b.onApplied = () => {};
  await command({ kind: 'stop-pulling' });
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
  const from = b.applied;
  const caughtUp = new Promise<number>((resolve) => {
    b.onApplied = (seq, at) => {
      if (seq >= target) resolve(at);
    };
  });
  const catchStart = now();
  await command({ kind: 'pull', url: urlA, token, limit: 5000, waitMs: 1000 });
  const catchMs = (await caughtUp) - catchStart;
  await command({ kind: 'stop-pulling' });
  const caught = Number(target - from);
  const catchUpRate = perSecond(caught, catchMs);
  note(`catch-up: ${caught} events in ${(catchMs / 1000).toFixed(1)} s = ${catchUpRate}/s`);

  // Baseline: B rebuilding its read model from its own log, which now holds the same events.
  const rebuiltReport = b.next('rebuilt');
  b.send({ kind: 'rebuild', path: join(scratch.dir, 'b-rebuild.sqlite') });
  const rebuilt = await rebuiltReport;
  const rebuildRate = perSecond(rebuilt.events, rebuilt.ms);
  note(
    `local rebuild of B: ${rebuilt.events} events in ${(rebuilt.ms / 1000).toFixed(1)} s = ${rebuildRate}/s`,
  );
  if (!rebuilt.same) throw new Error('rebuilt read model differs from the replicated one');

  const verifiedReport = b.next('verified');
  b.send({ kind: 'verify', origin: 'a', events: VERIFY });
  const verified = await verifiedReport;
  const verifyUs = [...verified.passes].sort((x, y) => x - y)[1]!;
  const catchUpUs = 1e6 / catchUpRate;
  const rebuildVerifyUs = (rebuilt.verifyMs * 1000) / rebuilt.events;
  note(
    `verification (trust.check) of ${verified.events} events of A: ${verified.passes.map((us) => us.toFixed(1)).join(', ')} µs an event; ${((100 * verifyUs) / catchUpUs).toFixed(0)} % of catch-up's ${catchUpUs.toFixed(0)} µs an event`,
  );

  await appA.close();
  await b.close();
  await a.close();
  await a.store.close();
  scratch.remove();
  const ratio = catchUpRate / rebuildRate;
  console.log(`authlog replication benchmark — node ${process.version}, ${process.platform}`);
  console.log(`lag at ${achieved} writes/s: p50 ${p50} ms, p99 ${p99} ms`);
  console.log(
    `catch-up of ${caught} events, verified: ${catchUpRate} ev/s; B's local rebuild ${rebuildRate} ev/s; ratio ${ratio.toFixed(2)}  [target ≥ 0.5: ${ratio >= 0.5 ? 'met' : 'MISSED'}]`,
  );
  console.log(
    `verification: ingest ${verifyUs.toFixed(1)} µs an event (${((100 * verifyUs) / catchUpUs).toFixed(0)} % of catch-up), rebuild ${rebuildVerifyUs.toFixed(1)} µs an event (${((100 * rebuildVerifyUs * rebuildRate) / 1e6).toFixed(0)} % of rebuild)`,
  );
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
      verifyUsPerEvent: round(verifyUs, 1),
      verifyShareOfCatchUp: round(verifyUs / catchUpUs),
      rebuildVerifyUsPerEvent: round(rebuildVerifyUs, 1),
      rebuildVerifyShare: round((rebuildVerifyUs * rebuildRate) / 1e6),
      targetsMet: { catchUpRatio: catchUpRate / rebuildRate >= 0.5 },
    }),
  );
};

await main();
