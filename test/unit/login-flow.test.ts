// Threats: user enumeration by timing, and online guessing that costs the server argon2 runs or
// events before it is throttled (OWASP ASVS 2.2.1, 5.0 6.3.1 / 6.3.3; NIST SP 800-63B rev 4
// 3.2.2). The login, step-up and Basic flows (src/authn/flows/) are domain code: driven here
// in-process, without HTTP, with an injected verifier, a recording throttle and a counting
// executor. An identity that names nobody still costs exactly one argon2 verification; the
// throttle is consulted with the account's (or the known device's) key before any argon2 run and
// before any command.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultAuthConfig } from '../../src/authn/auth-config.ts';
import { setPassword } from '../../src/authn/credentials.ts';
import type { EvidenceProvider } from '../../src/authn/evidence.ts';
import { basicLogIn } from '../../src/authn/flows/basic.ts';
import { logIn } from '../../src/authn/flows/login.ts';
import type { AuthnPorts, Caller, DeviceTrust, Throttle } from '../../src/authn/flows/ports.ts';
import { elevateSession } from '../../src/authn/flows/step.ts';
import { memoryThrottle } from '../../src/authn/flows/throttle.ts';
import { passwordProvider } from '../../src/authn/password-provider.ts';
import { hashPassword, verifyPassword } from '../../src/authn/passwords.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { AppError } from '../../src/errors.ts';
import * as library from '../../src/index.ts';
import type { Command } from '../../src/node/command.ts';
import { type AuthlogNode, newId } from '../../src/node/node.ts';
import { startMemoryNode, stopNode } from '../support/in-process.ts';

const PASSWORD = 'correct horse battery staple';

/** What a flow did, in order: throttle takes, argon2 verifications, provider work, commands. */
type Trace = string[];

const recordingThrottle = (trace: Trace, refuse = false): Throttle => ({
  take(keys) {
    trace.push(`take ${keys.join(' ')}`);
    if (refuse) throw new AppError('RATE_LIMITED', 'too many requests; retry in 60s');
    return () => trace.push(`release ${keys.join(' ')}`);
  },
  check: (keys) => trace.push(`check ${keys.join(' ')}`),
  fail: (keys) => trace.push(`fail ${keys.join(' ')}`),
});

/** The password provider, with its slow part traced. */
const tracedPassword = (trace: Trace): EvidenceProvider<unknown> => ({
  method: passwordProvider.method,
  decide: (context, prepared) =>
    passwordProvider.decide(context, prepared as Parameters<typeof passwordProvider.decide>[1]),
  async prepare(context) {
    trace.push('argon2 provider');
    return passwordProvider.prepare?.(context);
  },
});

describe('login flows in the domain (no HTTP)', () => {
  let node: AuthlogNode;
  let principalId: string;

  before(async () => {
    node = await startMemoryNode('flows');
    principalId = newId();
    const system = { actor: 'system' };
    await node.execute(
      registerPrincipal({
        principalId,
        kind: 'person',
        briefName: 'Alice',
        identity: { identityId: newId(), name: 'alice' },
      }),
      system,
    );
    const hash = await hashPassword(PASSWORD, defaultAuthConfig.argon2);
    await node.execute(setPassword({ credentialId: newId(), principalId, hash }), system);
  });
  after(() => stopNode(node));

  const setup = (options: { refuse?: boolean; device?: string } = {}) => {
    const trace: Trace = [];
    const ports: AuthnPorts = {
      read: node.read,
      providers: [tracedPassword(trace)],
      settings: { ...defaultAuthConfig, lockoutThreshold: 100 },
      throttle: recordingThrottle(trace, options.refuse),
      now: Date.now,
      verify: async (phc, presented) => {
        trace.push('argon2 dummy');
        return verifyPassword(phc, presented);
      },
    };
    const devices: DeviceTrust = {
      of: () => options.device,
      issue: (p) => `device-token-of-${p}`,
      remember: (p) => trace.push(`remember ${p}`),
    };
    const caller: Caller = {
      ip: '192.0.2.7',
      devices,
      execute: async <R>(command: Command<R>) => {
        trace.push(`command ${command.name}`);
        return (await node.execute(command, { actor: 'anonymous', ip: '192.0.2.7' })).result;
      },
    };
    return { trace, ports, caller };
  };

  const failedWith = (code: string) => (err: unknown) =>
    err instanceof AppError && err.code === code;

  it('an unknown identity costs one argon2 verification, after the throttle, before the failure is recorded', async () => {
    const { trace, ports, caller } = setup();
    await assert.rejects(
      logIn(ports, caller, {
        identity: 'Nobody',
        presented: { password: 'a guess' },
        transport: 'bearer',
      }),
      failedWith('AUTHENTICATION_FAILED'),
    );
    assert.deepEqual(trace, ['take account:internal:nobody', 'argon2 dummy', 'command Login']);
  });

  it('a known identity takes the account bucket, then verifies, then decides', async () => {
    const { trace, ports, caller } = setup();
    const { session, token, deviceToken } = await logIn(ports, caller, {
      identity: 'alice',
      presented: { password: PASSWORD },
      transport: 'bearer',
    });
    assert.equal(session.principalId, principalId);
    assert.match(token, /^als_/);
    assert.equal(deviceToken, `device-token-of-${principalId}`);
    assert.deepEqual(trace, [`take account:${principalId}`, 'argon2 provider', 'command Login']);
  });

  it('a wrong password costs the same one verification as an unknown identity', async () => {
    const { trace, ports, caller } = setup();
    await assert.rejects(
      logIn(ports, caller, {
        identity: 'alice',
        presented: { password: 'nope' },
        transport: 'cookie',
      }),
      failedWith('AUTHENTICATION_FAILED'),
    );
    assert.deepEqual(trace, [`take account:${principalId}`, 'argon2 provider', 'command Login']);
  });

  it('a known device takes its own bucket instead of the account', async () => {
    const { trace, ports, caller } = setup({ device: 'dev1' });
    await logIn(ports, caller, {
      identity: 'alice',
      presented: { password: PASSWORD },
      transport: 'bearer',
    });
    assert.equal(trace[0], `take device:${principalId}:dev1`);
  });

  it('a throttled attempt costs no argon2 run and no event, known or unknown', async () => {
    for (const identity of ['alice', 'nobody']) {
      const { trace, ports, caller } = setup({ refuse: true });
      const before = node.appliedVector();
      await assert.rejects(
        logIn(ports, caller, { identity, presented: { password: 'x' }, transport: 'bearer' }),
        failedWith('RATE_LIMITED'),
      );
      assert.equal(trace.length, 1, trace.join('; '));
      assert.match(trace[0] ?? '', /^take account:/);
      assert.deepEqual(node.appliedVector(), before);
    }
  });

  it('elevation takes the account bucket before argon2 and rotates the token', async () => {
    const { trace, ports, caller } = setup();
    const { session } = await logIn(ports, caller, {
      identity: 'alice',
      presented: { password: PASSWORD },
      transport: 'bearer',
    });
    trace.length = 0;
    const asAlice: Caller = {
      ...caller,
      execute: async <R>(command: Command<R>) => {
        trace.push(`command ${command.name}`);
        return (await node.execute(command, { actor: principalId, via: session.sessionId })).result;
      },
    };
    const elevated = await elevateSession(ports, asAlice, {
      session,
      presented: { password: PASSWORD },
    });
    assert.notEqual(elevated.session.elevatedUntil, null);
    assert.match(elevated.token, /^als_/);
    assert.deepEqual(trace, [
      `take account:${principalId}`,
      'argon2 provider',
      'command ElevateSession',
    ]);
    const refused = setup({ refuse: true });
    await assert.rejects(
      elevateSession(refused.ports, asAlice, { session, presented: { password: PASSWORD } }),
      failedWith('RATE_LIMITED'),
    );
    assert.deepEqual(refused.trace, [`take account:${principalId}`]);
  });

  it('Basic: an unknown identity costs one verification and takes the address and account buckets', async () => {
    const { trace, ports, caller } = setup();
    const found = await basicLogIn(ports, caller, { identity: 'nobody', password: 'guess' });
    assert.equal(found, undefined);
    assert.deepEqual(trace, [
      'take address:192.0.2.7 account:internal:nobody',
      'argon2 dummy',
      'command RecordAuthenticationFailure',
    ]);
  });

  it('Basic: a known device takes its own bucket and gets it back on success', async () => {
    const { trace, ports, caller } = setup({ device: 'app1' });
    const found = await basicLogIn(ports, caller, { identity: 'alice', password: PASSWORD });
    assert.equal(found?.principalId, principalId);
    assert.equal(trace[0], `take device:${principalId}:app1`);
    assert.ok(trace.includes(`release device:${principalId}:app1`));
    assert.ok(trace.includes(`remember ${principalId}`));
  });

  it('a real throttle: the account bucket fills from any address, and then nothing is verified', async () => {
    const trace: Trace = [];
    const { ports, caller } = setup();
    const limited: AuthnPorts = {
      ...ports,
      throttle: memoryThrottle({ max: 3, windowMs: 60_000 }),
      verify: async (phc, presented) => {
        trace.push('argon2 dummy');
        return verifyPassword(phc, presented);
      },
    };
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        logIn(
          limited,
          { ...caller, ip: `198.51.100.${i}` },
          {
            identity: 'nobody',
            presented: { password: 'guess' },
            transport: 'bearer',
          },
        ),
        failedWith('AUTHENTICATION_FAILED'),
      );
    await assert.rejects(
      logIn(limited, caller, {
        identity: 'NOBODY',
        presented: { password: 'x' },
        transport: 'bearer',
      }),
      failedWith('RATE_LIMITED'),
    );
    assert.equal(trace.length, 3);
  });

  it('an embedding application logs in and elevates through the library entry, without HTTP', async () => {
    const ports = library.nodePorts(node, { auth: { lockoutThreshold: 100 } });
    const { session, token } = await library.logIn(ports, library.localCaller(node), {
      identity: 'alice',
      presented: { password: PASSWORD },
      transport: 'bearer',
    });
    assert.equal(session.principalId, principalId);
    assert.equal(session.complete, true);
    assert.match(token, /^als_/);
    const asAlice = library.localCaller(node, { actor: principalId, via: session.sessionId });
    const elevated = await library.elevateSession(ports, asAlice, {
      session,
      presented: { password: PASSWORD },
    });
    assert.notEqual(elevated.session.elevatedUntil, null);
    await assert.rejects(
      library.logIn(ports, library.localCaller(node), {
        identity: 'alice',
        presented: { password: 'wrong' },
        transport: 'bearer',
      }),
      failedWith('AUTHENTICATION_FAILED'),
    );
  });
});
