// Threat: OTP replay — an attacker who sees a code (over a shoulder, from a phishing page, in a
// log) submits it again, racing the victim or after the victim has used it, at the same node or
// at another site (NIST SP 800-63B 5.1.4.2 / 5.1.5.2: accept a time-based OTP only once; RFC 6238
// 5.2). Codes come from oathtool, not from our own implementation.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Outcome } from '../../src/authn/evidence.ts';
import { confirmOtp, enrollOtp, otpProvider, seedToBase32 } from '../../src/authn/otp.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { encryptSeed, type Keyring, keyringFrom } from '../../src/authn/seed-crypto.ts';
import { AppError } from '../../src/errors.ts';
import type { Command } from '../../src/node/command.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { auth, startApp } from '../support/app.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';
import { awayFromStepEdge, oathHotp, oathTotp } from '../support/oathtool.ts';

const keys: Keyring = keyringFrom({ k1: randomBytes(32).toString('base64') });
const system = { actor: 'system' };

/** A login step reduced to the OTP provider: accepted codes record their use, others fail. */
const submit = (principalId: string, code: string): Command<Outcome> => ({
  name: 'SubmitOtp',
  decide(state, meta) {
    const outcome = otpProvider(keys).decide(
      { state, principalId, presented: { otp: code }, ip: undefined, now: meta.now },
      undefined,
    );
    if (outcome === 'failed' || outcome === 'none' || 'failed' in outcome)
      throw new AppError('OTP_CODE_INVALID', 'refused');
    return { events: outcome.events, result: outcome };
  },
});

const accepted = async (node: AuthlogNode, principalId: string, code: string) => {
  try {
    await node.execute(submit(principalId, code), system);
    return true;
  } catch (err) {
    if (err instanceof AppError && err.code === 'OTP_CODE_INVALID') return false;
    throw err;
  }
};

const enroll = async (node: AuthlogNode, principalId: string, kind: 'totp' | 'hotp') => {
  const seed = randomBytes(20);
  const credentialId = `otp-${principalId}-${kind}`;
  await node.execute(
    enrollOtp({
      credentialId,
      principalId,
      kind,
      name: kind,
      digits: 6,
      algorithm: 'sha1',
      period: kind === 'totp' ? 30 : null,
      counter: kind === 'hotp' ? 0 : null,
      seed: encryptSeed(keys, credentialId, seed),
    }),
    system,
  );
  return { credentialId, b32: seedToBase32(seed) };
};

describe('TOTP/HOTP replay', () => {
  let a: AuthlogNode;
  let b: AuthlogNode;
  before(async () => {
    a = await startMemoryNode('site-a');
    b = await startMemoryNode('site-b');
    for (const id of ['ann', 'bob', 'cyd'])
      await a.execute(
        registerPrincipal({ principalId: id, kind: 'person', briefName: id }),
        system,
      );
  });
  after(async () => {
    await stopNode(a);
    await stopNode(b);
  });

  it('an unconfirmed credential gives no evidence; the confirming code is used up', async () => {
    await awayFromStepEdge();
    const { credentialId, b32 } = await enroll(a, 'ann', 'totp');
    const code = oathTotp(b32, Date.now());
    assert.equal(await accepted(a, 'ann', code), false, 'not confirmed yet');
    await a.execute(confirmOtp(keys, { credentialId, code }), system);
    assert.equal(await accepted(a, 'ann', code), false, 'the confirming code again');
  });

  it('two parallel submissions of one code: exactly one wins', async () => {
    await awayFromStepEdge();
    const { credentialId, b32 } = await enroll(a, 'bob', 'totp');
    const now = Date.now();
    await a.execute(confirmOtp(keys, { credentialId, code: oathTotp(b32, now - 30_000) }), system);
    const code = oathTotp(b32, now);
    const results = await Promise.all(Array.from({ length: 8 }, () => accepted(a, 'bob', code)));
    assert.equal(results.filter(Boolean).length, 1, `results: ${results.join(', ')}`);
  });

  it('a code used at one site is refused at the other once the use has replicated', async () => {
    await awayFromStepEdge();
    const { credentialId, b32 } = await enroll(a, 'cyd', 'totp');
    const now = Date.now();
    await a.execute(confirmOtp(keys, { credentialId, code: oathTotp(b32, now - 30_000) }), system);
    const code = oathTotp(b32, now);
    assert.equal(await accepted(a, 'cyd', code), true);
    await pull(a, b);
    assert.equal(await accepted(b, 'cyd', code), false, 'replayed at site b');
    // The next time step still works at site b, and its use travels back to site a.
    const next = oathTotp(b32, now + 30_000);
    assert.equal(await accepted(b, 'cyd', next), true);
    await pull(b, a);
    assert.equal(await accepted(a, 'cyd', next), false, 'replayed at site a');
    assert.equal(
      a.read.get('SELECT last_step FROM otp_credentials WHERE id = ?', credentialId)?.last_step,
      b.read.get('SELECT last_step FROM otp_credentials WHERE id = ?', credentialId)?.last_step,
    );
  });

  it('HOTP: a counter value is accepted once; a skipped-ahead one moves the counter past it', async () => {
    const { credentialId, b32 } = await enroll(a, 'ann', 'hotp');
    await a.execute(confirmOtp(keys, { credentialId, code: oathHotp(b32, 0) }), system);
    assert.equal(await accepted(a, 'ann', oathHotp(b32, 0)), false, 'the confirming code');
    assert.equal(await accepted(a, 'ann', oathHotp(b32, 3)), true, 'within the look-ahead');
    for (const c of [1, 2, 3])
      assert.equal(await accepted(a, 'ann', oathHotp(b32, c)), false, `counter ${c} again`);
    await pull(a, b);
    assert.equal(await accepted(b, 'ann', oathHotp(b32, 3)), false, 'replayed at site b');
    assert.equal(await accepted(b, 'ann', oathHotp(b32, 4)), true);
  });
});

describe('TOTP replay over HTTP: parallel logins with one code', () => {
  it('of eight parallel logins presenting the same password and code, exactly one succeeds', async () => {
    await awayFromStepEdge();
    const { app, close } = await startApp('replay-http');
    try {
      const call = (
        method: 'POST' | 'PUT',
        url: string,
        payload: object,
        headers: Record<string, string> = auth,
      ) => app.inject({ method, url, headers, payload });
      const made = await call('POST', '/v1/principals', {
        principalId: 'dee',
        briefName: 'Dee',
        identity: { name: 'dee' },
      });
      assert.equal(made.statusCode, 201, made.body);
      const password = 'a long enough passphrase 7';
      assert.equal(
        (await call('PUT', '/v1/principals/dee/password', { password })).statusCode,
        200,
      );
      const e = (await call('POST', '/v1/principals/dee/otp', { name: 'phone' })).json();
      const now = Date.now();
      const confirm = { code: oathTotp(e.secret, now - 30_000) };
      assert.equal(
        (await call('POST', `/v1/credentials/${e.credentialId}/confirm`, confirm)).statusCode,
        200,
      );
      const body = { identity: 'dee', password, otp: oathTotp(e.secret, now), transport: 'bearer' };
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => call('POST', '/v1/auth/login', body, {})),
      );
      const statuses = answers.map((a) => a.statusCode).sort();
      assert.deepEqual(
        statuses,
        [200, 401, 401, 401, 401, 401, 401, 401],
        answers.map((a) => a.body).join('\n'),
      );
    } finally {
      await close();
    }
  });
});
