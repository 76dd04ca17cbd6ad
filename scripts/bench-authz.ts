// npm run bench:authz — authorization checks/s in-process next to casbin (the same RBAC model,
// hierarchy and grants, in the same run), and over HTTP with autocannon next to a bare fastify
// route returning a constant. The last line of output is one JSON object with the figures.
import autocannon from 'autocannon';
import { newEnforcer, newModelFromString, StringAdapter } from 'casbin';
import Fastify from 'fastify';
import { registerPrincipal } from '../src/authn/principals.ts';
import { addRoleMember, createRole, defineResourceType, setGrant } from '../src/authz/commands.ts';
import { buildApp } from '../src/http/app.ts';
import type { Command } from '../src/node/command.ts';
import type { AuthlogNode } from '../src/node/node.ts';
import { startMemoryNode, stopNode } from '../test/support/in-process.ts';
import { envInt, note, perSecond, round } from './bench/util.ts';

const PRINCIPALS = envInt('BENCH_PRINCIPALS', 10_000);
const ROLES = envInt('BENCH_ROLES', 200);
const TYPES = envInt('BENCH_TYPES', 20);
const CHECKS = envInt('BENCH_CHECKS', 2_000_000);
const HTTP_SECONDS = envInt('BENCH_HTTP_SECONDS', 5);
const CONNECTIONS = envInt('BENCH_CONNECTIONS', 50);
const OBJECTS = 1000;
const ACTIONS = ['select', 'create', 'update', 'delete'];
const TOKEN = 'bench-operator-token-0123456789abcdefghij';

// A fixed-seed generator: both engines get the very same model and questions.
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

type Grant = { role: string; type: string; action: string; object: string | null };
const model = () => {
  const roles = Array.from({ length: ROLES }, (_, i) => ({
    id: `r${i}`,
    parent: i === 0 ? null : `r${Math.floor((i - 1) / 4)}`,
  }));
  const types = Array.from({ length: TYPES }, (_, i) => `t${i}`);
  const grants: Grant[] = [];
  for (const r of roles) {
    for (let k = 0; k < 2; k++)
      grants.push({ role: r.id, type: pick(types), action: pick(ACTIONS), object: null });
    for (let k = 0; k < 5; k++)
      grants.push({
        role: r.id,
        type: pick(types),
        action: pick(ACTIONS),
        object: `o${Math.floor(rand() * OBJECTS)}`,
      });
  }
  const members = Array.from({ length: PRINCIPALS }, (_, i) => ({
    principal: `u${i}`,
    roles: [pick(roles).id, pick(roles).id],
  }));
  const questions = Array.from({ length: 10_000 }, () => ({
    principal: `u${Math.floor(rand() * PRINCIPALS)}`,
    type: pick(types),
    action: pick(ACTIONS),
    object: `o${Math.floor(rand() * OBJECTS)}`,
  }));
  return { roles, types, grants, members, questions };
};

const inWindows = async (commands: Command<unknown>[], node: AuthlogNode, window = 500) => {
  for (let i = 0; i < commands.length; i += window) {
    await Promise.all(
      commands.slice(i, i + window).map((c) => node.execute(c, { actor: 'system' })),
    );
  }
};

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
  const m = model();
  note(
    `setting up ${PRINCIPALS} principals, ${ROLES} roles, ${TYPES} resource types, ${m.grants.length} grants`,
  );
  const node = await startMemoryNode('bench');
  await inWindows(
    m.types.map((t) => defineResourceType({ resourceType: t })),
    node,
  );
  for (const r of m.roles)
    await node.execute(createRole({ roleId: r.id, name: r.id, parentId: r.parent }), {
      actor: 'system',
    });
  await inWindows(
    m.grants.map((g) =>
      setGrant(
        g.object === null
          ? { roleId: g.role, resourceType: g.type, action: g.action, effect: 'grant' }
          : {
              roleId: g.role,
              resourceType: g.type,
              action: g.action,
              objectId: g.object,
              effect: 'grant',
            },
      ),
    ),
    node,
  );
  await inWindows(
    m.members.map((u) =>
      registerPrincipal({ principalId: u.principal, kind: 'person', briefName: u.principal }),
    ),
    node,
  );
  await inWindows(
    m.members.flatMap((u) =>
      u.roles.map((r) => addRoleMember({ roleId: r, principalId: u.principal })),
    ),
    node,
  );

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
  note(`engines agree on ${m.questions.length} questions (${allowed} allowed)`);

  // Each engine runs for the same time budget (casbin is slow enough that a fixed count of its
  // checks would take minutes); warm-up excluded.
  const budgetMs = envInt('BENCH_CHECK_MS', 5000);
  const time = (label: string, one: (i: number) => unknown) => {
    for (let i = 0; i < 200; i++) one(i);
    const started = performance.now();
    let n = 0;
    while (n < CHECKS && performance.now() - started < budgetMs) {
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

  // HTTP: the check route against a bare fastify route, same load generator, same process.
  const app = buildApp({
    node,
    operatorToken: TOKEN,
    logger: false,
    edge: { rateLimit: { max: 100_000_000, windowMs: 60_000 } },
  });
  const ourUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  const bare = Fastify();
  bare.post('/check', async () => ({ allow: true, reason: 'constant' }));
  const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
  const load = async (url: string, headers: Record<string, string>) => {
    const r = await autocannon({
      url,
      method: 'POST',
      connections: CONNECTIONS,
      duration: HTTP_SECONDS,
      headers: { 'content-type': 'application/json', ...headers },
      requests: qs.slice(0, 500).map((q) => ({
        body: JSON.stringify({
          principalId: q.principal,
          resourceType: q.type,
          action: q.action,
          objectId: q.object,
        }),
      })),
    });
    if (r.non2xx > 0 || r.errors > 0)
      throw new Error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
    return { rps: Math.round(r.requests.average), p99: r.latency.p99, p50: r.latency.p50 };
  };
  const bareHttp = await load(`${bareUrl}/check`, {});
  const ourHttp = await load(`${ourUrl}/v1/authz/check`, { authorization: `Bearer ${TOKEN}` });
  note(
    `HTTP bare fastify: ${bareHttp.rps} req/s, p99 ${bareHttp.p99} ms; authlog: ${ourHttp.rps} req/s, p99 ${ourHttp.p99} ms`,
  );
  await app.close();
  await bare.close();
  await stopNode(node);

  console.log(
    JSON.stringify({
      bench: 'authz',
      principals: PRINCIPALS,
      roles: ROLES,
      resourceTypes: TYPES,
      checksPerSec: ourRate,
      casbinChecksPerSec: casbinRate,
      ratioVsCasbin: round(ourRate / casbinRate, 1),
      httpChecksPerSec: ourHttp.rps,
      httpBarePerSec: bareHttp.rps,
      ratioHttpVsBare: round(ourHttp.rps / bareHttp.rps),
      httpP50Ms: ourHttp.p50,
      httpP99Ms: ourHttp.p99,
      connections: CONNECTIONS,
    }),
  );
};

await main();
