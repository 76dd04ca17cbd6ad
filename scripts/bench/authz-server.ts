// The server side of bench:authz, in a child process of its own so the load generator does not
// share its event loop (or its garbage collector) with the server it measures. It builds the
// model into an in-memory node, times in-process checks next to casbin, then serves the check
// route (the real app: logger at the production default level, rate limiting, headers, auth)
// and a bare fastify route returning a constant, and answers the parent's `mark` messages with
// its CPU time, event-loop utilization and garbage-collection pauses, so the parent can tell
// where the time went.
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { newEnforcer, newModelFromString, StringAdapter } from 'casbin';
import Fastify from 'fastify';
import pino from 'pino';
import { buildApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/http/logging.ts';
import { startMemoryNode, stopNode } from '../../test/support/in-process.ts';
import { loadModel, model, TOKEN } from './authz-model.ts';
import { envInt, note, perSecond } from './util.ts';

export type ServerMessage =
  | {
      type: 'inProcess';
      questions: number;
      allowed: number;
      ourRate: number;
      casbinRate: number;
    }
  | { type: 'listening'; ourUrl: string; bareUrl: string }
  | {
      type: 'usage';
      cpuMicros: number;
      systemMicros: number;
      gcCount: number;
      gcMs: number;
      gcMaxMs: number;
      elu: number;
    };
export type ParentMessage = { type: 'mark' } | { type: 'stop' };

const send = (m: ServerMessage) => process.send?.(m);

const CASBIN_MODEL = `
[request_definition]
r = sub, typ, obj, act
[policy_definition]
p = sub, typ, obj, act
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub) && r.typ == p.typ && r.act == p.act && (p.obj == "*" || r.obj == p.obj)
`;

const main = async () => {
  const sizes = {
    principals: envInt('BENCH_PRINCIPALS', 10_000),
    roles: envInt('BENCH_ROLES', 200),
    types: envInt('BENCH_TYPES', 20),
  };
  const m = model(sizes);
  note(
    `setting up ${sizes.principals} principals, ${sizes.roles} roles, ${sizes.types} resource types, ${m.grants.length} grants`,
  );
  const node = await startMemoryNode('bench');
  await loadModel(m, node);

  const policy = [
    ...m.grants.map((g) => `p, ${g.role}, ${g.type}, ${g.object ?? '*'}, ${g.action}`),
    ...m.roles.filter((r) => r.parent).map((r) => `g, ${r.id}, ${r.parent}`),
    ...m.members.flatMap((u) => u.roles.map((r) => `g, ${u.principal}, ${r}`)),
  ].join('\n');
  const casbin = await newEnforcer(newModelFromString(CASBIN_MODEL), new StringAdapter(policy));

  // Both engines must agree on every question, or the comparison means nothing.
  let allowed = 0;
  for (const q of m.questions) {
    const ours = node.authz.check({
      subject: { principalId: q.principal },
      resourceType: q.type,
      action: q.action,
      objectId: q.object,
    }).allow;
    const theirs = casbin.enforceSync(q.principal, q.type, q.object, q.action);
    if (ours !== theirs)
      throw new Error(
        `engines disagree on ${JSON.stringify(q)}: authlog ${ours}, casbin ${theirs}`,
      );
    if (ours) allowed += 1;
  }

  // Each engine runs for the same time budget (casbin is slow enough that a fixed count of its
  // checks would take minutes); warm-up excluded.
  const budgetMs = envInt('BENCH_CHECK_MS', 5000);
  const maxChecks = envInt('BENCH_CHECKS', 2_000_000);
  const time = (label: string, one: (i: number) => unknown) => {
    for (let i = 0; i < 200; i++) one(i);
    const started = performance.now();
    let n = 0;
    while (n < maxChecks && performance.now() - started < budgetMs) {
      for (let k = 0; k < 100; k++) one(n++);
    }
    const rate = perSecond(n, performance.now() - started);
    note(`${label}: ${rate} checks/s (${n} checks)`);
    return rate;
  };
  const qs = m.questions;
  const ourRate = time('authlog in-process', (i) => {
    const q = qs[i % qs.length]!;
    return node.authz.check({
      subject: { principalId: q.principal },
      resourceType: q.type,
      action: q.action,
      objectId: q.object,
    });
  });
  const casbinRate = time('casbin in-process', (i) => {
    const q = qs[i % qs.length]!;
    return casbin.enforceSync(q.principal, q.type, q.object, q.action);
  });
  send({ type: 'inProcess', questions: qs.length, allowed, ourRate, casbinRate });

  // The app as `authlog serve` builds it: the logger at the production default level (written
  // to /dev/null, as cheap a sink as a real one can be), every hook; only the global rate limit
  // is raised, since all the load comes from one address.
  const app = buildApp({
    node,
    operatorToken: TOKEN,
    logger: createLogger(
      process.env.BENCH_LOG_LEVEL ?? 'info',
      pino.destination({ dest: '/dev/null', sync: true }),
    ),
    edge: { rateLimit: { max: 100_000_000, windowMs: 60_000 } },
  });
  const ourUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const bare = Fastify();
  bare.post('/check', async () => ({ allow: true, reason: 'constant' }));
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });

  const gc = { count: 0, ms: 0, maxMs: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count += 1;
      gc.ms += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  let elu = performance.eventLoopUtilization();
  process.on('message', async (message: ParentMessage) => {
    if (message.type === 'mark') {
      const cpu = process.cpuUsage();
      const now = performance.eventLoopUtilization();
      send({
        type: 'usage',
        cpuMicros: cpu.user + cpu.system,
        systemMicros: cpu.system,
        gcCount: gc.count,
        gcMs: gc.ms,
        gcMaxMs: gc.maxMs,
        elu: performance.eventLoopUtilization(now, elu).utilization,
      });
      elu = now;
      gc.maxMs = 0;
    } else {
      await app.close();
      await bare.close();
      await stopNode(node);
      process.disconnect();
    }
  });
  send({ type: 'listening', ourUrl, bareUrl });
};

await main();
