// OTP building blocks: seeds sealed with AES-256-GCM (tampering is refused, keys rotate), and the
// acceptance windows checked against codes from oathtool, or otpauth where it is missing (an
// independent implementation either way; the run prints which):
// TOTP ±1 time step (RFC 6238 5.2), HOTP look-ahead (RFC 4226 7.4), nothing at or below the
// highest step already used.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  HOTP_LOOK_AHEAD,
  matchCode,
  type OtpParams,
  seedFromBase32,
  seedToBase32,
} from '../../src/authn/otp.ts';
import { decryptSeed, encryptSeed, keyringFrom } from '../../src/authn/seed-crypto.ts';
import { oathHotp, oathTotp, otpOracle } from '../support/oathtool.ts';

const key = () => randomBytes(32).toString('base64');

describe('OTP seeds at rest (AES-256-GCM)', () => {
  const keyring = keyringFrom({ k1: key() });
  const seed = randomBytes(20);
  const sealed = encryptSeed(keyring, 'cred-1', seed);

  it('round-trips, and never holds the seed in clear', () => {
    assert.deepEqual(decryptSeed(keyring, 'cred-1', sealed), seed);
    assert.equal(sealed.keyId, 'k1');
    assert.ok(!Buffer.from(sealed.ciphertext, 'base64').equals(seed));
    assert.notEqual(encryptSeed(keyring, 'cred-1', seed).iv, sealed.iv, 'a fresh IV per seal');
  });

  it('refuses a tampered ciphertext, tag or IV, another credential id, or an unknown key', () => {
    const flip = (b64: string, i = 0) => {
      const b = Buffer.from(b64, 'base64');
      b[i] = (b[i] ?? 0) ^ 1;
      return b.toString('base64');
    };
    assert.equal(
      decryptSeed(keyring, 'cred-1', { ...sealed, ciphertext: flip(sealed.ciphertext) }),
      undefined,
    );
    assert.equal(
      decryptSeed(keyring, 'cred-1', { ...sealed, ciphertext: flip(sealed.ciphertext, 19) }),
      undefined,
    );
    assert.equal(decryptSeed(keyring, 'cred-1', { ...sealed, tag: flip(sealed.tag) }), undefined);
    assert.equal(decryptSeed(keyring, 'cred-1', { ...sealed, iv: flip(sealed.iv) }), undefined);
    assert.equal(
      decryptSeed(keyring, 'cred-1', { ...sealed, tag: sealed.tag.slice(0, 8) }),
      undefined,
    );
    assert.equal(decryptSeed(keyring, 'cred-2', sealed), undefined, 'moved to another credential');
    assert.equal(decryptSeed(keyring, 'cred-1', { ...sealed, keyId: 'k2' }), undefined);
    assert.equal(decryptSeed(keyringFrom({ k1: key() }), 'cred-1', sealed), undefined, 'wrong key');
  });

  it('decrypts seeds sealed under an older key after rotation', () => {
    const old = keyringFrom({ k1: keyring.keys.get('k1')!.toString('base64') });
    const rotated = keyringFrom({ k2: key(), k1: keyring.keys.get('k1')!.toString('base64') });
    assert.deepEqual(decryptSeed(rotated, 'cred-1', encryptSeed(old, 'cred-1', seed)), seed);
    assert.equal(encryptSeed(rotated, 'cred-1', seed).keyId, 'k2');
  });
});

describe('OTP acceptance windows (codes from oathtool)', () => {
  it('codes come from an independent implementation', (t) => {
    t.diagnostic(`OTP oracle: ${otpOracle}`);
    assert.equal(oathHotp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 0), '755224', 'RFC 4226 appendix D');
  });
  const seed = randomBytes(20);
  const b32 = seedToBase32(seed);
  const totp: OtpParams = { kind: 'totp', digits: 6, algorithm: 'sha1', period: 30 };
  const now = Date.UTC(2026, 10, 22, 9, 0, 10); // 10 s into a time step
  const stepNow = Math.floor(now / 30_000);

  it('base32 seeds round-trip as oathtool reads them', () => {
    assert.deepEqual(seedFromBase32(b32), seed);
    assert.deepEqual(seedFromBase32(b32.toLowerCase().replace(/(.{4})/g, '$1 ')), seed);
    assert.throws(() => seedFromBase32('not base32!'));
    assert.throws(() => seedFromBase32('ABCDEFGH'), 'shorter than 128 bits');
  });

  it('TOTP: the current step and one either side, not two', () => {
    const at = { now, after: undefined, firstCounter: 0 };
    for (const offset of [-1, 0, 1])
      assert.equal(
        matchCode(totp, seed, oathTotp(b32, now + offset * 30_000), at),
        stepNow + offset,
        `step ${offset}`,
      );
    for (const offset of [-3, -2, 2, 3])
      assert.equal(matchCode(totp, seed, oathTotp(b32, now + offset * 30_000), at), undefined);
  });

  it('TOTP: a step at or below the highest used one is refused (replay)', () => {
    const code = oathTotp(b32, now);
    assert.equal(matchCode(totp, seed, code, { now, after: stepNow, firstCounter: 0 }), undefined);
    assert.equal(
      matchCode(totp, seed, code, { now, after: stepNow - 1, firstCounter: 0 }),
      stepNow,
    );
    const next = oathTotp(b32, now + 30_000);
    assert.equal(
      matchCode(totp, seed, next, { now, after: stepNow, firstCounter: 0 }),
      stepNow + 1,
      'the next step is still fine',
    );
  });

  it('TOTP with SHA-256, 8 digits and a 60 s period', () => {
    const p: OtpParams = { kind: 'totp', digits: 8, algorithm: 'sha256', period: 60 };
    const code = oathTotp(b32, now, { digits: 8, algorithm: 'sha256', period: 60 });
    assert.equal(code.length, 8);
    assert.equal(
      matchCode(p, seed, code, { now, after: undefined, firstCounter: 0 }),
      Math.floor(now / 60_000),
    );
    assert.equal(
      matchCode(totp, seed, code.slice(0, 6), { now, after: undefined, firstCounter: 0 }),
      undefined,
    );
  });

  it('refuses malformed codes without throwing', () => {
    for (const bad of ['', '12345', '1234567', 'abcdef', ' 123456', '123456\n', '１２３４５６'])
      assert.equal(
        matchCode(totp, seed, bad, { now, after: undefined, firstCounter: 0 }),
        undefined,
      );
  });

  it(`HOTP: the next counter and up to ${HOTP_LOOK_AHEAD} ahead; never one already used`, () => {
    const hotp: OtpParams = { kind: 'hotp', digits: 6, algorithm: 'sha1', period: null };
    const at = (after: number | undefined) => ({ now, after, firstCounter: 0 });
    assert.equal(matchCode(hotp, seed, oathHotp(b32, 0), at(undefined)), 0);
    assert.equal(
      matchCode(hotp, seed, oathHotp(b32, HOTP_LOOK_AHEAD), at(undefined)),
      HOTP_LOOK_AHEAD,
    );
    assert.equal(
      matchCode(hotp, seed, oathHotp(b32, HOTP_LOOK_AHEAD + 1), at(undefined)),
      undefined,
    );
    assert.equal(matchCode(hotp, seed, oathHotp(b32, 5), at(5)), undefined, 'used');
    assert.equal(matchCode(hotp, seed, oathHotp(b32, 4), at(5)), undefined, 'behind');
    assert.equal(matchCode(hotp, seed, oathHotp(b32, 6), at(5)), 6);
    assert.equal(matchCode(hotp, seed, oathHotp(b32, 16), at(5)), 16);
    assert.equal(
      matchCode(hotp, seed, oathHotp(b32, 7), { now, after: undefined, firstCounter: 7 }),
      7,
    );
  });
});
