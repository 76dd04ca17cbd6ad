// Threat: a client reading stale state after its own write (a revoked grant still answering
// allow on another request): `authlog-after: origin:seq` makes a /v1 request wait until this
// node has applied that write, and refuses it with NOT_YET_APPLIED when it does not come in time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { seqOf } from '../../src/clock/version-vector.ts';
import { auth, startApp } from '../support/app.ts';

describe('authlog-after', () => {
  let ctx: Awaited<ReturnType<typeof startApp>>;
  before(async () => {
    ctx = await startApp('ryw');
  });
  after(() => ctx.close());

  const write = (id: string) =>
    ctx.node.execute(registerPrincipal({ principalId: id, kind: 'person', briefName: id }), {
      actor: 'system',
    });
  const get = (afterHeader: string) =>
    ctx.app.inject({
      url: '/v1/principals/p2',
      headers: { ...auth, 'authlog-after': afterHeader },
    });

  it('answers at once for a write already applied', async () => {
    await write('p1');
    const seq = seqOf(ctx.node.projector.applied, ctx.node.id);
    const r = await get(`${ctx.node.id}:${seq}`);
    assert.equal(r.statusCode, 404, r.body);
    assert.equal(r.json().code, 'PRINCIPAL_NOT_FOUND');
  });

  it('waits for a write still to come, then answers with it applied', async () => {
    const next = seqOf(ctx.node.projector.applied, ctx.node.id) + 1n;
    const answer = get(`${ctx.node.id}:${next}`);
    await new Promise((r) => setTimeout(r, 50));
    await write('p2');
    const r = await answer;
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().id, 'p2');
  });

  it('refuses a write that never comes, and a malformed header', async () => {
    const far = seqOf(ctx.node.projector.applied, ctx.node.id) + 1000n;
    const r = await get(`${ctx.node.id}:${far}`);
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().code, 'NOT_YET_APPLIED');
    const bad = await get('not a position');
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'VALIDATION_FAILED');
  });
});
