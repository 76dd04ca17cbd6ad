// Threat: a session token carried off the network takes the network with it. Location evidence
// (a subnet credential) proven at login, or an elevation that had to prove it, kept counting for
// the session's whole life from any address (issue 14 rows 9 and 10), while an access token's
// subnets are checked at every use. Location must count for a request only when that request
// comes from inside the subnet credential that proved it, for cookie and bearer sessions alike;
// outside, a session whose policy requires location is incomplete and an elevation that rested
// on location does not hold (NIST SP 800-63B rev 4 section 7, session binding; ASVS 5.0 V7).
// Real HTTP over loopback: the client binds 127.0.0.2 (inside) or 127.0.0.3 (outside) as its
// local address, so the server sees it as the socket peer (no proxy headers involved).
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import { listenApp } from '../support/app.ts';
import {
  bearer,
  browser,
  cookiesOf,
  createUser,
  type Http,
  http,
  operator,
  operatorCall,
} from '../support/auth.ts';

const PASSWORD = 'a password that travels well';
const INSIDE = '127.0.0.2';
const OUTSIDE = '127.0.0.3';

/** The test helpers' Http, from a chosen local address (node:http's `localAddress`). */
const from = (port: number, localAddress: string): Http => ({
  base: `http://127.0.0.1:${port}`,
  request: (method, path, options = {}) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...options.headers };
      let body: string | undefined;
      if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.body);
      }
      const req = httpRequest(
        { host: '127.0.0.1', port, method, path, headers, localAddress, agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => {
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              parsed = {};
            }
            const out = new Headers();
            for (const [name, value] of Object.entries(res.headers))
              for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value])
                out.append(name, v);
            resolve({ status: res.statusCode ?? 0, body: parsed, headers: out, text });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    }),
});

describe('location evidence is checked where the session is used', () => {
  let ctx: Awaited<ReturnType<typeof listenApp>>;
  let h: Http;
  let inside: Http;
  let outside: Http;
  let call: ReturnType<typeof operatorCall>;
  before(async () => {
    ctx = await listenApp('located');
    h = http(ctx.port);
    inside = from(ctx.port, INSIDE);
    outside = from(ctx.port, OUTSIDE);
    call = operatorCall(h);
    await call('POST', '/v1/privileges', { privilege: 'lab.enter' });
    await call('POST', '/v1/roles', { roleId: 'staff', name: 'staff' }, 201);
  });
  after(() => ctx.close());

  /** A person with a password and a subnet credential for 127.0.0.2 alone. */
  const located = async (name: string, policy?: { require: string[]; elevate?: string[] }) => {
    const id = await createUser(h, name, PASSWORD);
    const subnet = await call(
      'POST',
      `/v1/principals/${id}/subnets`,
      { name: 'lab', cidrs: [`${INSIDE}/32`] },
      201,
    );
    if (policy) await call('PUT', `/v1/auth/policies/principal/${id}`, policy);
    return { id, subnetId: String(subnet.credentialId) };
  };
  const login = async (client: Http, identity: string, transport: 'bearer' | 'cookie') => {
    const r = await client.request('POST', '/v1/auth/login', {
      body: { identity, password: PASSWORD, transport },
    });
    assert.equal(r.status, 200, r.text);
    return {
      body: r.body,
      headers:
        transport === 'bearer' ? bearer(String(r.body.token)) : browser(cookiesOf(r.headers)),
    };
  };
  const kinds = (body: Record<string, unknown>) =>
    (body.evidences as { evidence: string }[]).map((e) => e.evidence).sort();

  it('row 9: a bearer session of a "password, only from 127.0.0.2/32" policy is incomplete from 127.0.0.3', async () => {
    await located('lena', { require: ['knowledge', 'location'] });
    const s = await login(inside, 'lena', 'bearer');
    assert.equal(s.body.complete, true);

    const stolen = await outside.request('GET', '/v1/auth/sessions', { headers: s.headers });
    assert.equal(stolen.status, 403, stolen.text);
    assert.equal(stolen.body.code, 'EVIDENCE_REQUIRED');
    const check = await outside.request('POST', '/v1/authz/check', {
      headers: s.headers,
      body: { sessionId: String(s.body.sessionId), privilege: 'lab.enter' },
    });
    assert.equal(check.status, 403, check.text);
    assert.equal(check.body.code, 'EVIDENCE_REQUIRED');
    // The session can still tell its holder why.
    const seen = await outside.request('GET', '/v1/auth/session', { headers: s.headers });
    assert.equal(seen.status, 200, seen.text);
    assert.equal(seen.body.complete, false);
    assert.deepEqual(seen.body.missing, ['location']);
    assert.deepEqual(kinds(seen.body), ['knowledge']);

    // The same token from the right subnet works again.
    const back = await inside.request('GET', '/v1/auth/sessions', { headers: s.headers });
    assert.equal(back.status, 200, back.text);
  });

  it('the same for a cookie session', async () => {
    await located('cora', { require: ['knowledge', 'location'] });
    const s = await login(inside, 'cora', 'cookie');
    assert.equal(s.body.complete, true);
    const stolen = await outside.request('GET', '/v1/auth/sessions', { headers: s.headers });
    assert.equal(stolen.status, 403, stolen.text);
    assert.equal(stolen.body.code, 'EVIDENCE_REQUIRED');
    const back = await inside.request('GET', '/v1/auth/sessions', { headers: s.headers });
    assert.equal(back.status, 200, back.text);
  });

  it('a revoked subnet credential stops counting for sessions it proved', async () => {
    const { subnetId } = await located('rex', { require: ['knowledge', 'location'] });
    const s = await login(inside, 'rex', 'bearer');
    await call('DELETE', `/v1/credentials/${subnetId}`);
    const r = await inside.request('GET', '/v1/auth/sessions', { headers: s.headers });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.code, 'EVIDENCE_REQUIRED');
  });

  it('a session without a location policy is unaffected off-network', async () => {
    await located('nick');
    const s = await login(inside, 'nick', 'bearer');
    assert.deepEqual(kinds(s.body), ['knowledge', 'location'], 'location proven in passing');
    const r = await outside.request('GET', '/v1/auth/sessions', { headers: s.headers });
    assert.equal(r.status, 200, r.text);
    const seen = await outside.request('GET', '/v1/auth/session', { headers: s.headers });
    assert.equal(seen.body.complete, true);
    assert.deepEqual(kinds(seen.body), ['knowledge'], 'location does not count out there');
  });

  /** An administrator with a subnet credential, and a principal for them to add to `staff`. */
  const administrator = async (name: string, elevate: string[]) => {
    const { id } = await located(name, { require: ['knowledge'], elevate });
    await call('POST', `/v1/roles/${ADMINISTRATORS_ROLE}/members`, { principalId: id });
    return id;
  };
  const addToStaff = (client: Http, headers: Record<string, string>, principalId: string) =>
    client.request('POST', '/v1/roles/staff/members', { headers, body: { principalId } });

  it('row 10: an elevation that had to prove location does not hold outside the subnet', async () => {
    await administrator('ada', ['knowledge', 'location']);
    const newcomer = await createUser(h, 'newcomer', undefined);
    const s = await login(outside, 'ada', 'bearer');
    const away = await outside.request('POST', '/v1/auth/elevate', {
      headers: s.headers,
      body: { password: PASSWORD },
    });
    assert.equal(away.status, 401, 'not from the admin subnet');
    const up = await inside.request('POST', '/v1/auth/elevate', {
      headers: s.headers,
      body: { password: PASSWORD },
    });
    assert.equal(up.status, 200, up.text);
    const token = bearer(String(up.body.token));

    const stolen = await addToStaff(outside, token, newcomer);
    assert.equal(stolen.status, 403, stolen.text);
    assert.equal(stolen.body.code, 'ELEVATION_REQUIRED');
    const seen = await outside.request('GET', '/v1/auth/session', { headers: token });
    assert.equal(seen.body.elevatedUntil, null, 'not elevated out there');

    const home = await addToStaff(inside, token, newcomer);
    assert.ok(home.status >= 200 && home.status < 300, home.text);
  });

  it('an elevation by password alone is unaffected by address', async () => {
    await administrator('bea', ['knowledge']);
    const newcomer = await createUser(h, 'newcomer2', undefined);
    const s = await login(outside, 'bea', 'bearer');
    // Elevated from the subnet: location is proven in passing, but the elevation rests on the
    // password alone.
    const up = await inside.request('POST', '/v1/auth/elevate', {
      headers: s.headers,
      body: { password: PASSWORD },
    });
    assert.equal(up.status, 200, up.text);
    const r = await addToStaff(outside, bearer(String(up.body.token)), newcomer);
    assert.ok(r.status >= 200 && r.status < 300, r.text);
  });

  it('authz/check by sessionId: location counts only when the session asks for itself, from inside', async () => {
    const dir = await call(
      'POST',
      '/v1/role-directories',
      { name: 'lab-dir', requiredEvidences: ['location'] },
      201,
    );
    const role = await call(
      'POST',
      '/v1/roles',
      { name: 'lab', directoryId: dir.directoryId },
      201,
    );
    await call('PUT', `/v1/roles/${role.roleId}/grants`, {
      privilege: 'lab.enter',
      effect: 'grant',
    });
    const { id } = await located('rita');
    await call('POST', `/v1/roles/${role.roleId}/members`, { principalId: id });
    const s = await login(inside, 'rita', 'bearer');
    const sessionId = String(s.body.sessionId);
    const check = (client: Http, headers: Record<string, string>) =>
      client.request('POST', '/v1/authz/check', {
        headers,
        body: { sessionId, privilege: 'lab.enter' },
      });

    const own = await check(inside, s.headers);
    assert.equal(own.status, 200, own.text);
    assert.equal(own.body.allow, true, own.text);

    const ownAway = await check(outside, s.headers);
    assert.equal(ownAway.status, 200, ownAway.text);
    assert.equal(ownAway.body.allow, false, ownAway.text);
    assert.deepEqual(ownAway.body.missingEvidences, ['location']);

    // Asked by anyone else (here the operator, from the very subnet), the session's address is
    // unknown: location does not count.
    const third = await inside.request('POST', '/v1/authz/check', {
      headers: operator,
      body: { sessionId, privilege: 'lab.enter' },
    });
    assert.equal(third.status, 200, third.text);
    assert.equal(third.body.allow, false, third.text);
    assert.deepEqual(third.body.missingEvidences, ['location']);
  });
});
