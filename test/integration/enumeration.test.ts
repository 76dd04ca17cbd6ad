// Threat: user enumeration (OWASP ASVS 2.2.1 / 3.2; Authentication Cheat Sheet "Authentication
// responses"): learning which identities exist from the login answer or its timing. An unknown
// identity, a known one with a wrong password and a known one without any password get the same
// status and body, and comparable timing: the unknown path verifies against a dummy argon2 hash.
// Timing is judged against a tolerance measured in the same run: the argon2 cost itself (a login
// minus a request that does no hashing); without the dummy hash the unknown path would differ by
// about that whole cost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { listenApp } from '../support/app.ts';
import { createUser, type Http, http } from '../support/auth.ts';

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

describe('no user enumeration through login', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  before(async () => {
    ctx = await listenApp('enumeration', { auth: { lockoutThreshold: 100 } });
    h = http(ctx.port);
    await createUser(h, 'known', 'the real password 1');
    await createUser(h, 'nopassword', undefined, 'service');
  });
  after(() => ctx.close());

  const attempt = async (identity: string) => {
    const t = process.hrtime.bigint();
    const r = await h.request('POST', '/v1/auth/login', {
      body: { identity, password: 'some guessed password' },
    });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    const { requestId: _r, instance: _i, ...body } = r.body;
    return { status: r.status, body, ms };
  };

  it('answers unknown and known identities with the same status and body', async () => {
    const known = await attempt('known');
    const unknown = await attempt('no-such-user');
    const noPassword = await attempt('nopassword');
    const invalidName = await attempt('has spaces in it');
    assert.equal(known.status, 401);
    for (const other of [unknown, noPassword, invalidName]) {
      assert.equal(other.status, known.status);
      assert.deepEqual(other.body, known.body);
    }
  });

  it('takes comparable time for unknown and known identities', async () => {
    const times: Record<'known' | 'unknown' | 'nopassword' | 'baseline', number[]> = {
      known: [],
      unknown: [],
      nopassword: [],
      baseline: [],
    };
    for (let i = 0; i < 3; i++) await attempt('known'); // warm-up
    for (let round = 0; round < 15; round++) {
      times.known.push((await attempt('known')).ms);
      times.unknown.push((await attempt(`ghost-${round}`)).ms);
      times.nopassword.push((await attempt('nopassword')).ms);
      const t = process.hrtime.bigint();
      await h.request('GET', '/health');
      times.baseline.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    const hashCost = m.known! - m.baseline!;
    const report = JSON.stringify(m);
    assert.ok(hashCost > 0, `a login costs more than a health check: ${report}`);
    // Without the dummy hash, the unknown path would be about `hashCost` faster.
    assert.ok(Math.abs(m.unknown! - m.known!) < 0.5 * hashCost, `unknown vs known: ${report}`);
    assert.ok(
      Math.abs(m.nopassword! - m.known!) < 0.5 * hashCost,
      `no password vs known: ${report}`,
    );
  });
});
