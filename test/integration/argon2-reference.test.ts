// Password hashes interoperate: a PHC string authlog writes is exactly what the reference
// implementation's CLI (`argon2`, from the Password Hashing Competition winners' repository,
// Debian package argon2) computes for the same password, salt and parameters, and a hash the CLI
// makes verifies in authlog. The salt is passed to the CLI as raw bytes through bash.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  ARGON2_FLOOR,
  checkNewPassword,
  hashPassword,
  verifyPassword,
} from '../../src/authn/passwords.ts';

const PASSWORD = 'Ünïcode pässwörd, NFKC ﬁ'; // the ligature normalizes to "fi"

const reference = (password: string, salt: Buffer, args: readonly string[]): string => {
  const octal = [...salt].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
  // `x` keeps a trailing newline byte of the salt from being stripped by $(…).
  const script = `salt=$(printf '${octal}x'); salt=\${salt%x}; argon2 "$salt" ${args.join(' ')}`;
  return execFileSync('bash', ['-c', script], { input: password, encoding: 'utf8' }).trim();
};

/** A PHC string's parts; the parameters as a map (their order differs between writers). */
const parsePhc = (phc: string) => {
  const m = /^\$argon2id\$v=19\$([a-z=0-9,]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  assert.ok(m, phc);
  const params = Object.fromEntries(
    m[1]!.split(',').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])]),
  );
  return { params, salt: Buffer.from(m[2]!, 'base64'), hash: m[3]! };
};

describe('argon2id hashes against the reference CLI', () => {
  it('a hash authlog wrote is the reference hash of the NFKC-normalized password', async () => {
    const normalized = checkNewPassword(PASSWORD);
    assert.ok(normalized.includes('fi'), 'NFKC applied');
    let compared = 0;
    for (let i = 0; i < 20 && compared < 2; i++) {
      const phc = await hashPassword(normalized);
      const ours = parsePhc(phc);
      assert.deepEqual(ours.params, {
        m: ARGON2_FLOOR.memoryCost,
        t: ARGON2_FLOOR.timeCost,
        p: ARGON2_FLOOR.parallelism,
      });
      assert.equal(ours.salt.length, 16, '128-bit salt');
      if (ours.salt.includes(0)) continue; // a shell argument cannot carry a NUL byte
      const cli = parsePhc(
        reference(normalized, ours.salt, [
          '-id',
          '-t',
          String(ours.params.t),
          '-k',
          String(ours.params.m),
          '-p',
          String(ours.params.p),
          '-l',
          '32',
          '-e',
        ]),
      );
      assert.deepEqual(cli, ours);
      compared += 1;
    }
    assert.equal(compared, 2, 'two hashes compared');
  });

  it('a hash the reference CLI made verifies in authlog, and only with the right password', async () => {
    const phc = reference(checkNewPassword(PASSWORD), Buffer.from('saltsaltsaltsalt'), [
      '-id',
      '-t',
      '2',
      '-k',
      '19456',
      '-p',
      '1',
      '-e',
    ]);
    assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifyPassword(phc, PASSWORD), true, 'the same password, not normalized');
    assert.equal(await verifyPassword(phc, `${PASSWORD}!`), false);
  });
});
