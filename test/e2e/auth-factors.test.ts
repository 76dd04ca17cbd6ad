// DESIGN.md section 7 scenarios that involve OTP, subnets, access tokens and the trusted gateway,
// end to end: a real `authlog serve` process, real HTTP on loopback, codes from oathtool, the
// CLI for enrollment and tokens. The node listens on `::` (dual stack); it trusts 127.0.0.1 as a
// reverse proxy, so a request over 127.0.0.1 presents any client address (IPv4, IPv6, IPv4-mapped)
// through X-Forwarded-For, while a request over [::1] is a client that is no proxy and no gateway.
// 127.0.0.1 is also the trusted gateway for Remote-User (scenario 10).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { oathHotp, totpSequence } from '../support/oathtool.ts';
import {
  removeDir,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../support/process.ts';

type Answer = { status: number; body: Record<string, unknown> };
type Call = {
  token?: string;
  body?: object;
  /** Client address as the trusted proxy (127.0.0.1) reports it. */
  from?: string;
  remoteUser?: string;
  /** Connect over [::1]: neither a trusted proxy nor a gateway. */
  ipv6Peer?: boolean;
};

const HOTP_SEED = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const PASSWORD = 'correct horse battery staple 42';

describe('authentication factors end to end (scenarios 2-4, 6-10)', () => {
  let server: ServerProcess;
  let dataDir: string;
  let port: string;
  let operator: string;

  const call = async (method: string, path: string, c: Call = {}): Promise<Answer> => {
    const host = c.ipv6Peer ? '[::1]' : '127.0.0.1';
    const res = await fetch(`http://${host}:${port}${path}`, {
      method,
      headers: {
        ...(c.token ? { authorization: `Bearer ${c.token}` } : {}),
        ...(c.body ? { 'content-type': 'application/json' } : {}),
        ...(c.from ? { 'x-forwarded-for': c.from } : {}),
        ...(c.remoteUser ? { 'remote-user': c.remoteUser } : {}),
      },
      ...(c.body ? { body: JSON.stringify(c.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const admin = (method: string, path: string, body?: object) =>
    call(method, path, { token: operator, ...(body ? { body } : {}) });
  const cli = (...args: (string | { input: string })[]) => {
    const input = args.find((a) => typeof a === 'object')?.input;
    const argv = args.filter((a) => typeof a === 'string');
    const env = { AUTHLOG_DATA_DIR: dataDir, AUTHLOG_URL: `http://127.0.0.1:${port}` };
    return runCli(argv, env, input);
  };
  const ok = (a: Answer, status = 200) => {
    assert.equal(a.status, status, JSON.stringify(a.body));
    return a.body;
  };
  const person = async (id: string, kind: 'person' | 'service' = 'person') => {
    ok(
      await admin('POST', '/v1/principals', {
        principalId: id,
        kind,
        briefName: id,
        identity: { name: id },
      }),
      201,
    );
  };
  const login = (identity: string, extra: object, from?: string) =>
    call('POST', '/v1/auth/login', {
      body: { identity, transport: 'bearer', ...extra },
      ...(from ? { from } : {}),
    });

  before(async () => {
    dataDir = tempDir('auth-factors');
    server = await startServerProcess({
      dataDir,
      nodeId: 'factors',
      env: {
        AUTHLOG_HOST: '::',
        AUTHLOG_TRUSTED_PROXIES: '127.0.0.1',
        AUTHLOG_GATEWAY_CIDRS: '127.0.0.1',
        AUTHLOG_AUTH_RATE_LIMIT: '100000/1m',
        AUTHLOG_LOG_LEVEL: 'warn',
      },
    });
    port = new URL(server.url).port;
    operator = server.token;
    for (const id of ['ann', 'hal', 'olga', 'gwen']) {
      await person(id);
      ok(await admin('PUT', `/v1/principals/${id}/password`, { password: PASSWORD }));
    }
    await person('svc', 'service');
  });
  after(async () => {
    await server?.stop();
    removeDir(dataDir);
  });

  it('3: identity + password + TOTP (enrolled with the CLI, codes from oathtool)', async () => {
    const enrolled = await cli('credential', 'enroll-totp', 'ann', '--name', 'phone', '--json');
    assert.equal(enrolled.code, 0, enrolled.stderr);
    const { credentialId, secret, uri } = JSON.parse(enrolled.stdout);
    assert.match(uri, /^otpauth:\/\/totp\//);
    const nextCode = totpSequence(secret);
    const confirmed = await cli('credential', 'confirm', credentialId, await nextCode());
    assert.equal(confirmed.code, 0, confirmed.stderr);
    ok(
      await admin('PUT', '/v1/auth/policies/principal/ann', {
        require: ['knowledge', 'ownership'],
      }),
    );

    // Password first: the session exists but may do nothing but add evidence.
    const first = ok(await login('ann', { password: PASSWORD }));
    assert.equal(first.complete, false);
    assert.deepEqual(first.missing, ['ownership']);
    const token = String(first.token);
    const blocked = await call('GET', '/v1/principals/ann/credentials', { token });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body.code, 'EVIDENCE_REQUIRED');

    const code = await nextCode();
    const second = ok(await call('POST', '/v1/auth/evidence', { token, body: { otp: code } }));
    assert.equal(second.complete, true);
    assert.notEqual(second.token, token, 'the token rotates with the evidence');
    assert.equal((await call('GET', '/v1/auth/session', { token })).status, 401, 'old token');
    ok(await call('GET', '/v1/principals/ann/credentials', { token: String(second.token) }));

    // The same code again, in a fresh login: refused (replay).
    const again = ok(await login('ann', { password: PASSWORD }));
    const replay = await call('POST', '/v1/auth/evidence', {
      token: String(again.token),
      body: { otp: code },
    });
    assert.equal(replay.status, 401);
    const methods = (second.evidences as { method: string }[]).map((e) => e.method).sort();
    assert.deepEqual(methods, ['password', 'totp']);
    const listed = await cli('credential', 'list', 'ann');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /password\s+password\s+live/);
    assert.match(listed.stdout, /totp\s+phone\s+live/);
    assert.doesNotMatch(listed.stdout, new RegExp(secret));
  });

  it('3: identity + password + HOTP (a hardware token whose seed is imported)', async () => {
    // The seed comes on stdin, never argv; the first code confirms at once.
    const enrolled = await cli(
      { input: HOTP_SEED },
      'credential',
      'enroll-hotp',
      'hal',
      '--name',
      'key',
      '--secret-file',
      '-',
      '--code',
      oathHotp(HOTP_SEED, 0),
      '--json',
    );
    assert.equal(enrolled.code, 0, enrolled.stderr);
    assert.equal(JSON.parse(enrolled.stdout).confirmed, true);
    ok(
      await admin('PUT', '/v1/auth/policies/principal/hal', {
        require: ['knowledge', 'ownership'],
      }),
    );
    const s = ok(await login('hal', { password: PASSWORD, otp: oathHotp(HOTP_SEED, 1) }));
    assert.equal(s.complete, true);
    const used = await login('hal', { password: PASSWORD, otp: oathHotp(HOTP_SEED, 1) });
    assert.equal(used.status, 401, 'counter 1 again');
    assert.equal(used.body.code, 'AUTHENTICATION_FAILED');
  });

  it('2: identity + password, only from a subnet (IPv4 and IPv6)', async () => {
    await person('pia');
    ok(await admin('PUT', '/v1/principals/pia/password', { password: PASSWORD }));
    const sub = await cli(
      'credential',
      'add-subnet',
      'pia',
      '192.0.2.0/24',
      '2001:db8:2::/48',
      '--name',
      'branch',
    );
    assert.equal(sub.code, 0, sub.stderr);
    ok(
      await admin('PUT', '/v1/auth/policies/principal/pia', { require: ['knowledge', 'location'] }),
    );
    for (const from of ['192.0.2.10', '2001:db8:2::10', '::ffff:192.0.2.11']) {
      const inside = ok(await login('pia', { password: PASSWORD }, from));
      assert.equal(inside.complete, true, from);
    }
    for (const from of ['198.51.100.1', '2001:db8:3::1']) {
      const outside = ok(await login('pia', { password: PASSWORD }, from));
      assert.equal(outside.complete, false, from);
      assert.deepEqual(outside.missing, ['location']);
      // An incomplete session can read itself and add evidence, nothing else.
      const blocked = await call('GET', '/v1/principals/pia', { token: String(outside.token) });
      assert.equal(blocked.status, 403, JSON.stringify(blocked.body));
    }
    const wrong = await login('pia', { password: 'not the password at all' }, '192.0.2.10');
    assert.equal(wrong.status, 401, 'the subnet does not stand in for the password');
  });

  it('4: identity + password + OTP, only from a subnet (IPv4 and IPv6)', async () => {
    const e = ok(
      await admin('POST', '/v1/principals/olga/otp', {
        kind: 'hotp',
        name: 'key',
        secret: HOTP_SEED,
      }),
      201,
    );
    ok(
      await admin('POST', `/v1/credentials/${e.credentialId}/confirm`, {
        code: oathHotp(HOTP_SEED, 0),
      }),
    );
    const sub = await cli(
      'credential',
      'add-subnet',
      'olga',
      '10.1.0.0/16',
      '2001:db8:1::/48',
      '--name',
      'office',
    );
    assert.equal(sub.code, 0, sub.stderr);
    ok(
      await admin('PUT', '/v1/auth/policies/principal/olga', {
        require: ['knowledge', 'ownership', 'location'],
      }),
    );
    const outside = ok(
      await login('olga', { password: PASSWORD, otp: oathHotp(HOTP_SEED, 1) }, '203.0.113.7'),
    );
    assert.equal(outside.complete, false);
    assert.deepEqual(outside.missing, ['location']);
    for (const [from, counter] of [
      ['10.1.2.3', 2],
      ['2001:db8:1::7', 3],
      ['::ffff:10.1.200.1', 4],
    ] as const) {
      const inside = ok(
        await login('olga', { password: PASSWORD, otp: oathHotp(HOTP_SEED, counter) }, from),
      );
      assert.equal(inside.complete, true, from);
    }
    const noOtp = ok(await login('olga', { password: PASSWORD }, '10.1.2.3'));
    assert.deepEqual(noOtp.missing, ['ownership'], 'the subnet does not stand in for the OTP');
  });

  it('6: an application from its subnet, no other credential', async () => {
    ok(
      await admin('POST', '/v1/principals/svc/subnets', { name: 'batch', cidrs: ['10.9.0.0/16'] }),
      201,
    );
    ok(await admin('PUT', '/v1/auth/policies/principal/svc', { require: ['location'] }));
    const s = ok(await login('svc', {}, '10.9.4.4'));
    assert.equal(s.complete, true);
    assert.deepEqual(
      (s.evidences as { evidence: string }[]).map((x) => x.evidence),
      ['location'],
    );
    ok(
      await call('GET', '/v1/principals/svc/credentials', {
        token: String(s.token),
        from: '10.9.4.4',
      }),
    );
    // The session counts only from its subnet: location is checked at every use.
    const away = await call('GET', '/v1/principals/svc/credentials', {
      token: String(s.token),
      from: '10.8.4.4',
    });
    assert.equal(away.status, 403, JSON.stringify(away.body));
    assert.equal(away.body.code, 'EVIDENCE_REQUIRED');
    assert.equal((await login('svc', {}, '10.8.4.4')).status, 401, 'from elsewhere');
    assert.equal((await login('svc', {})).status, 401, 'from the proxy itself');
  });

  it('7 and 8: access tokens as Bearer, bound to IPv4/IPv6 subnets (CLI issue and revoke)', async () => {
    const issued = await cli('token', 'issue', 'svc', '--name', 'ci', '--json');
    assert.equal(issued.code, 0, issued.stderr);
    const plain = JSON.parse(issued.stdout) as { credentialId: string; token: string };
    ok(await call('GET', '/v1/principals/svc/credentials', { token: plain.token }));
    ok(await call('GET', '/v1/principals/svc/credentials', { token: plain.token, ipv6Peer: true }));

    const bound = await cli(
      'token',
      'issue',
      'svc',
      '--name',
      'bound',
      '--subnet',
      '10.9.0.0/16',
      '--subnet',
      '2001:db8:9::/48',
      '--json',
    );
    assert.equal(bound.code, 0, bound.stderr);
    const b = JSON.parse(bound.stdout) as { credentialId: string; token: string };
    for (const from of ['10.9.0.5', '::ffff:10.9.0.5', '2001:db8:9::1'])
      ok(await call('GET', '/v1/principals/svc/credentials', { token: b.token, from }));
    for (const from of ['10.10.0.1', '2001:db8:a::1', '::ffff:10.10.0.1']) {
      const r = await call('GET', '/v1/principals/svc/credentials', { token: b.token, from });
      assert.equal(r.status, 401, from);
    }
    const v6 = await call('GET', '/v1/principals/svc/credentials', {
      token: b.token,
      ipv6Peer: true,
    });
    assert.equal(v6.status, 401, 'from ::1 directly');

    const revoked = await cli('token', 'revoke', plain.credentialId);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await call('GET', '/v1/auth/session', { token: plain.token })).status, 401);
    const listed = await cli('credential', 'list', 'svc', '--json');
    const items = JSON.parse(listed.stdout).items as { credentialId: string; revoked: boolean }[];
    assert.equal(items.find((i) => i.credentialId === plain.credentialId)?.revoked, true);
  });

  it('9: elevation by OTP; by OTP + password; by OTP + password only from a subnet', async () => {
    // hal: HOTP counters 0 and 1 are used; the session is complete with password + OTP.
    let counter = 2;
    const session = async (who: string, from?: string) =>
      String(
        ok(await login(who, { password: PASSWORD, otp: oathHotp(HOTP_SEED, counter++) }, from))
          .token,
      );
    const sensitive = (token: string, from?: string) =>
      call('POST', '/v1/principals/hal/tokens', {
        token,
        body: { name: 'self' },
        ...(from ? { from } : {}),
      });

    ok(
      await admin('PUT', '/v1/auth/policies/principal/hal', {
        require: ['knowledge', 'ownership'],
        elevate: ['ownership'],
      }),
    );
    let token = await session('hal');
    assert.equal((await sensitive(token)).body.code, 'ELEVATION_REQUIRED');
    const byOtp = ok(
      await call('POST', '/v1/auth/elevate', {
        token,
        body: { otp: oathHotp(HOTP_SEED, counter++) },
      }),
    );
    assert.ok(byOtp.elevatedUntil);
    token = String(byOtp.token);
    ok(await sensitive(token), 201);
    const replay = await call('POST', '/v1/auth/elevate', {
      token,
      body: { otp: oathHotp(HOTP_SEED, counter - 1) },
    });
    assert.equal(replay.status, 401, 'a used code does not elevate');

    ok(
      await admin('PUT', '/v1/auth/policies/principal/hal', {
        require: ['knowledge', 'ownership'],
        elevate: ['knowledge', 'ownership'],
      }),
    );
    token = await session('hal');
    const otpOnly = await call('POST', '/v1/auth/elevate', {
      token,
      body: { otp: oathHotp(HOTP_SEED, counter++) },
    });
    assert.equal(otpOnly.status, 401, 'the password is also required');
    const both = ok(
      await call('POST', '/v1/auth/elevate', {
        token,
        body: { password: PASSWORD, otp: oathHotp(HOTP_SEED, counter++) },
      }),
    );
    ok(await sensitive(String(both.token)), 201);

    ok(
      await admin('POST', '/v1/principals/hal/subnets', {
        name: 'admin lan',
        cidrs: ['2001:db8:ad::/48'],
      }),
      201,
    );
    ok(
      await admin('PUT', '/v1/auth/policies/principal/hal', {
        require: ['knowledge', 'ownership'],
        elevate: ['knowledge', 'ownership', 'location'],
      }),
    );
    token = await session('hal', '198.51.100.1');
    const away = await call('POST', '/v1/auth/elevate', {
      token,
      from: '198.51.100.1',
      body: { password: PASSWORD, otp: oathHotp(HOTP_SEED, counter++) },
    });
    assert.equal(away.status, 401, 'not from the admin subnet');
    const home = ok(
      await call('POST', '/v1/auth/elevate', {
        token,
        from: '2001:db8:ad::5',
        body: { password: PASSWORD, otp: oathHotp(HOTP_SEED, counter++) },
      }),
    );
    ok(await sensitive(String(home.token), '2001:db8:ad::5'), 201);
    // Being on hal's subnet is not being hal: location alone logs in only whom a policy says.
    assert.equal((await login('hal', {}, '2001:db8:ad::5')).status, 401);
  });

  it('10: Remote-User is honoured from the gateway peer only; ignored and logged otherwise', async () => {
    const viaGateway = await call('GET', '/v1/principals/gwen/credentials', { remoteUser: 'gwen' });
    ok(viaGateway);
    // A forwarded address does not make the request come from elsewhere: the socket peer counts.
    ok(
      await call('GET', '/v1/principals/gwen/credentials', {
        remoteUser: 'gwen',
        from: '203.0.113.9',
      }),
    );
    // From [::1], which is not a configured gateway: ignored (so unauthenticated) and logged.
    const spoofed = await call('GET', '/v1/principals/gwen/credentials', {
      remoteUser: 'gwen',
      ipv6Peer: true,
    });
    assert.equal(spoofed.status, 401);
    // The log line travels through the child's stdout pipe, which may lag the HTTP answer.
    const logged = /Remote-User header from a peer outside AUTHLOG_GATEWAY_CIDRS ignored/;
    for (let i = 0; i < 200 && !logged.test(server.output()); i++)
      await new Promise((r) => setTimeout(r, 25));
    assert.match(server.output(), logged);
    // The gateway naming nobody, or someone else's credentials: refused.
    assert.equal(
      (await call('GET', '/v1/principals/gwen/credentials', { remoteUser: 'nobody' })).status,
      401,
    );
    assert.equal(
      (await call('GET', '/v1/principals/ann/credentials', { remoteUser: 'gwen' })).status,
      403,
    );
    // Trust evidence is not an elevation: sensitive operations stay refused.
    const issue = await call('POST', '/v1/principals/gwen/tokens', {
      remoteUser: 'gwen',
      body: { name: 'x' },
    });
    assert.equal(issue.body.code, 'ELEVATION_REQUIRED');
  });

  it('recovery codes through the CLI: printed once, counted, one used in place of the phone', async () => {
    const made = await cli('credential', 'recovery-codes', 'ann', '--regenerate');
    assert.equal(made.code, 0, made.stderr);
    const codes = made.stdout.match(/^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/gm) ?? [];
    assert.equal(codes.length, 10, made.stdout);
    assert.match(made.stdout, /shown this once/);
    const count = async () => {
      const shown = await cli('credential', 'recovery-codes', 'ann');
      assert.equal(shown.code, 0, shown.stderr);
      return /remaining\s+(\d+) of 10/.exec(shown.stdout)?.[1];
    };
    assert.equal(await count(), '10');
    const session = ok(await login('ann', { password: PASSWORD, recoveryCode: codes[0]! }));
    assert.deepEqual((session.evidences as { method: string }[]).map((e) => e.method).sort(), [
      'password',
      'recovery-code',
    ]);
    assert.equal(await count(), '9');
    const listed = await cli('credential', 'list', 'ann');
    assert.match(listed.stdout, /recovery\s+recovery codes \(9 of 10 left\)\s+live/);
  });
});
