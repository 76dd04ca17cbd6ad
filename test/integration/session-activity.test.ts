// Node-local session activity (the idle timeout's last use) must not grow for as long as a node
// runs: one entry per session ever used would be a leak at login rates. Entries that can no
// longer change an answer are swept; entries of sessions still in use stay.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { defaultAuthConfig } from '../../src/authn/auth-config.ts';
import { passwordProvider } from '../../src/authn/password-provider.ts';
import { createSessions } from '../../src/http/sessions.ts';
import { listenApp } from '../support/app.ts';
import { createUser, type Http, http } from '../support/auth.ts';

const PASSWORD = 'an everyday pass phrase';

describe('session activity', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  before(async () => {
    ctx = await listenApp('activity');
    h = http(ctx.port);
  });
  after(() => ctx.close());

  const login = async (identity: string): Promise<string> => {
    const r = await h.request('POST', '/v1/auth/login', {
      body: { identity, password: PASSWORD, transport: 'bearer' },
    });
    assert.equal(r.status, 200, r.text);
    return String(r.body.token);
  };

  it('forgets sessions idle past the timeout, keeps those in use', async () => {
    await createUser(h, 'ada', PASSWORD);
    await createUser(h, 'bob', PASSWORD);
    const idle = await login('ada');
    const busy = await login('bob');

    let now = Date.now();
    // The sessions were started with the default idle timeout (30 min); touches every 5 min.
    const settings = defaultAuthConfig;
    const sessions = createSessions(ctx.node, settings, {
      providers: [passwordProvider],
      clock: () => now,
    });
    // The lookup reads the client address (location evidence counts only where it was proven).
    const request = () =>
      ({ ip: '127.0.0.1', socket: { remoteAddress: '127.0.0.1' } }) as FastifyRequest;
    assert.ok(sessions.lookup(idle, request()));
    assert.ok(sessions.lookup(busy, request()));
    assert.equal(sessions.activity.size, 2);

    // bob keeps using his session; ada's goes quiet for longer than the timeout and an interval.
    for (let minute = 1; minute <= 36; minute++) {
      now += 60_000;
      assert.ok(sessions.lookup(busy, request()), `bob's session at minute ${minute}`);
    }
    assert.equal(sessions.lookup(idle, request()), undefined, 'ada’s session is idle');
    assert.deepEqual([...sessions.activity.values()], [now]);
  });
});
