// Threat: hostile input on any route, today's or tomorrow's: wrong types, missing and extra
// fields, oversized strings and bodies, null bytes, control and bidi characters, `__proto__` keys,
// wrong content types, huge or malformed headers, crashing the node (5xx), leaking internals, or
// changing state (OWASP ASVS 5.1, 13.1). The suite walks every operation of the node's own
// OpenAPI document, so a route added later is fuzzed without anyone writing a case for it. Every
// answer must be a 4xx application/problem+json with a stable code, and the read model unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { auth, startApp, TOKEN } from '../support/app.ts';
import {
  HOSTILE_CHARS,
  type HostileRequest,
  hostileBodies,
  hostileHeaders,
  hostilePathValue,
  hostileQueries,
  type JsonSchema,
  notUtf8Bodies,
  type Operation,
  operationsOf,
  sample,
  validBody,
  validParam,
  WRONG_CONTENT_TYPES,
} from '../support/hostile.ts';

const MISSING_ID = 'zz-missing-0';
// Case-sensitive: a JavaScript error's name (`TypeError:`) leaks; a field named `error` (an OAuth
// callback's `querystring.error: must be string`) does not.
const INTERNALS = /at .*\.(ts|js):\d+|SQLITE|[Ss]qlite3|node_modules|\/work\/|Error:/;

const fill = (op: Operation, values: Record<string, string>) =>
  op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => values[name] ?? MISSING_ID);

const queryOf = (op: Operation) =>
  new URLSearchParams(
    Object.entries((sample(op.query) ?? {}) as Record<string, unknown>).map(
      ([k, v]): [string, string] => [k, String(v)],
    ),
  ).toString();

const withQuery = (path: string, query: string) => (query ? `${path}?${query}` : path);

/** Every kind of hostile request that applies to the operation, as one arbitrary. */
const hostileRequests = (
  op: Operation,
  realId: string,
  otherMethods: readonly string[],
): fc.Arbitrary<HostileRequest> => {
  const headers: Record<string, string> = { ...auth };
  const validQuery = queryOf(op);
  const body = op.body ? JSON.stringify(sample(op.body) ?? {}) : undefined;
  const json: Record<string, string> =
    body === undefined ? {} : { 'content-type': 'application/json' };
  const url = withQuery(fill(op, {}), validQuery);
  const base = { method: op.method, headers: { ...headers, ...json } };
  const kinds: fc.Arbitrary<HostileRequest>[] = [
    hostileQueries(op.query).map(({ kind, query }) => ({
      ...base,
      kind,
      url: withQuery(fill(op, {}), query),
      ...(body === undefined ? {} : { payload: body }),
    })),
  ];
  if (otherMethods.length > 0)
    kinds.push(
      fc.constantFrom(...otherMethods).map((method) => ({
        kind: 'method: not routed',
        method,
        url,
        headers: { ...headers, 'content-type': 'application/json' },
        payload: body ?? '{}',
      })),
    );
  if (op.pathParams.length > 0) {
    kinds.push(
      fc
        .tuple(fc.constantFrom(...op.pathParams), hostilePathValue)
        .filter(([param, { value }]) => !validParam(param.schema, value))
        .map(([param, { kind, value }]) => ({
          ...base,
          kind,
          url: withQuery(fill(op, { [param.name]: value }), validQuery),
          ...(body === undefined ? {} : { payload: body }),
        })),
    );
  }
  if (op.body) {
    const schema = op.body;
    const bodies = hostileBodies(schema).map(({ kind, text }) => ({
      ...base,
      kind,
      url,
      payload: text,
    }));
    kinds.push(
      bodies,
      bodies,
      bodies,
      // Issue 14 row 7: bytes that are not UTF-8 were stored as U+FFFD.
      notUtf8Bodies(body ?? '{}').map(({ kind, bytes }) => ({
        ...base,
        kind,
        url,
        payload: bytes,
      })),
      fc.constantFrom(...WRONG_CONTENT_TYPES).map((type) => ({
        kind: 'content type: not JSON',
        method: op.method,
        url,
        headers: { ...headers, 'content-type': type },
        payload: body ?? '{}',
      })),
    );
    // Schema-valid shapes with hostile text, against existing ids: the domain must refuse them.
    const strings = stringProps(schema);
    if (strings.length > 0)
      kinds.push(
        fc
          .tuple(
            fc.constantFrom(...strings),
            fc.constantFrom(...HOSTILE_CHARS),
            fc.string({ maxLength: 6 }),
          )
          .map(([prop, c, s]) => {
            const value = { ...(sample(schema) as object), [prop]: `o${c}k${s}` };
            return {
              ...base,
              kind: validBody(schema, value) ? 'domain: hostile text' : 'body: hostile text',
              url: withQuery(
                fill(op, Object.fromEntries(op.pathParams.map((p) => [p.name, realId]))),
                validQuery,
              ),
              payload: JSON.stringify(value),
            };
          }),
      );
  }
  if (op.secured) {
    kinds.push(
      hostileHeaders(TOKEN)
        .filter(({ kind }) => op.path.startsWith('/v1/') || !kind.includes('authlog-after'))
        .map(({ kind, headers: h }) => ({
          kind,
          method: op.method,
          url,
          headers: { ...json, ...h },
          ...(body === undefined ? {} : { payload: body }),
        })),
    );
  }
  return fc.oneof(...kinds);
};

const stringProps = (schema: JsonSchema): string[] => {
  const branches = Array.isArray(schema.anyOf) ? [] : [schema];
  return branches.flatMap((b) =>
    Object.entries((b.properties ?? {}) as Record<string, JsonSchema>)
      .filter(([, s]) => s.type === 'string' && s.pattern === undefined && s.format === undefined)
      .map(([k]) => k),
  );
};

describe('hostile input on every route of the OpenAPI document', () => {
  let ctx: Awaited<ReturnType<typeof startApp>>;
  let realId = '';
  before(async () => {
    ctx = await startApp('hostile');
    const r = await ctx.app.inject({
      method: 'POST',
      url: '/v1/principals',
      headers: auth,
      payload: { briefName: 'Ann', email: 'ann@example.org', identity: { name: 'ann' } },
    });
    assert.equal(r.statusCode, 201, r.body);
    realId = r.json().principalId;
  });
  after(() => ctx.close());

  it('answers every hostile request with a 4xx problem and changes nothing', async () => {
    const doc = (await ctx.app.inject({ url: '/openapi.json' })).json();
    const ops = operationsOf(doc);
    assert.ok(ops.length >= 15, `only ${ops.length} operations in the document`);
    const digest = ctx.node.digest();
    const eventsBefore = (
      await ctx.node.store.readAll({ streamPrefix: 'origin-', maxCount: 1_000_000 })
    ).length;
    // A failed authentication (a bad Basic credential) is recorded: an event that replicates,
    // is audited and counts towards lockout (DESIGN.md section 9). Nothing else may change.
    const authRecords = () =>
      Number(
        ctx.node.read.get(
          `SELECT (SELECT COUNT(*) FROM auth_failures) +
             (SELECT COUNT(*) FROM principal_lockout_history) AS n`,
        )?.n ?? 0,
      );
    const applied = () =>
      String(
        Object.values(ctx.node.status().applied).reduce((n, seq) => n + BigInt(seq), 0n) -
          BigInt(authRecords()),
      );
    const tried = new Map<string, number>();
    const statuses = new Map<number, number>();
    let total = 0;
    const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'];
    for (const op of ops) {
      const routed = ops.filter((o) => o.path === op.path).map((o) => o.method);
      // HEAD is routed wherever GET is.
      const others = METHODS.filter((m) => !routed.includes(m) && !(m === 'HEAD'));
      await fc.assert(
        fc.asyncProperty(hostileRequests(op, realId, others), async (req) => {
          total += 1;
          const before = applied();
          tried.set(req.kind, (tried.get(req.kind) ?? 0) + 1);
          const r = await ctx.app.inject({
            method: req.method as 'GET',
            url: req.url,
            headers: req.headers,
            ...(req.payload === undefined ? {} : { payload: req.payload }),
          });
          statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
          const what = `${req.kind}: ${req.method} ${req.url.slice(0, 200)} ${String(req.payload).slice(0, 200)}`;
          assert.ok(
            r.statusCode >= 400 && r.statusCode < 500,
            `${what} → ${r.statusCode} ${r.body.slice(0, 300)}`,
          );
          assert.match(String(r.headers['content-type']), /^application\/problem\+json/, what);
          const problem = r.json();
          assert.equal(problem.status, r.statusCode, what);
          assert.match(problem.code, /^[A-Z][A-Z0-9_]+$/, what);
          assert.equal(
            problem.type,
            `urn:authlog:problem:${problem.code.toLowerCase().replaceAll('_', '-')}`,
          );
          assert.doesNotMatch(r.body, INTERNALS, `${what}: internals leaked: ${r.body}`);
          if (req.kind === 'body: not UTF-8') assert.equal(problem.code, 'BODY_NOT_UTF8', what);
          assert.equal(applied(), before, `${what} changed state`);
        }),
        { numRuns: op.body ? 240 : 100, includeErrorInReport: true },
      );
    }
    // Only records of failed authentication were written (see `authRecords` above).
    const written = (await ctx.node.store.readAll({ streamPrefix: 'origin-', maxCount: 1_000_000 }))
      .slice(eventsBefore)
      .map((e) => e.type);
    assert.deepEqual(
      [...new Set(written)].filter(
        (t) => t !== 'AuthenticationFailed' && t !== 'PrincipalLockedOut',
      ),
      [],
      'the read model changed',
    );
    if (written.length === 0) assert.equal(ctx.node.digest(), digest, 'the read model changed');
    console.log(`# hostile cases tried: ${total} on ${ops.length} operations`);
    console.log(
      `# by kind: ${[...tried]
        .sort()
        .map(([k, n]) => `${k} ${n}`)
        .join('; ')}`,
    );
    console.log(
      `# answers: ${[...statuses]
        .sort()
        .map(([s, n]) => `${s}×${n}`)
        .join(' ')}`,
    );
  });
});
