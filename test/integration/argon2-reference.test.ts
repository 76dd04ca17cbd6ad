// Threat: password hashes locked into one library (issue 14, row 11). argon2 0.45.1 writes
// `$argon2id$v=19$m=…,p=…,t=…$…`, which argon2-cffi and the reference implementation refuse
// ("Decoding failed"), so hashes could not move to or from another system. A PHC string authlog
// writes must be, character for character, what an independent argon2id implementation writes
// for the same password, salt and parameters (the reference CLI, Debian package argon2, or
// hash-wasm where the CLI is missing; the test prints which), a hash that implementation made
// verifies in authlog, and hashes in the old order still verify but ask to be rewritten.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ARGON2_FLOOR,
  checkNewPassword,
  hashPassword,
  isStandardPhc,
  needsRehash,
  verifyPassword,
} from '../../src/authn/passwords.ts';
import { argon2Oracle, oldOrder } from '../support/argon2-oracle.ts';

const PASSWORD = 'Ünïcode pässwörd, NFKC ﬁ'; // the ligature normalizes to "fi"

const STANDARD = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

const oracle = argon2Oracle();

describe('argon2id hashes are standard PHC strings', () => {
  it('row 11: a hash authlog wrote is the string an independent implementation writes', async (t) => {
    t.diagnostic(`argon2 oracle: ${oracle.name}`);
    const normalized = checkNewPassword(PASSWORD);
    assert.ok(normalized.includes('fi'), 'NFKC applied');
    let compared = 0;
    for (let i = 0; i < 20 && compared < 2; i++) {
      const phc = await hashPassword(normalized, ARGON2_FLOOR);
      const m = STANDARD.exec(phc);
      assert.ok(m, `not a standard PHC string: ${phc}`);
      assert.deepEqual(
        [Number(m[1]), Number(m[2]), Number(m[3])],
        [ARGON2_FLOOR.memoryCost, ARGON2_FLOOR.timeCost, ARGON2_FLOOR.parallelism],
      );
      const salt = Buffer.from(m[4]!, 'base64');
      assert.equal(salt.length, 16, '128-bit salt');
      if (!oracle.accepts(salt)) continue;
      const theirs = await oracle.encode(normalized, salt, {
        m: ARGON2_FLOOR.memoryCost,
        t: ARGON2_FLOOR.timeCost,
        p: ARGON2_FLOOR.parallelism,
      });
      assert.equal(phc, theirs);
      assert.equal(isStandardPhc(phc), true);
      assert.equal(needsRehash(phc, ARGON2_FLOOR), false, 'a fresh hash needs no rehash');
      compared += 1;
    }
    assert.equal(compared, 2, 'two hashes compared');
  });

  it('a hash the independent implementation made verifies in authlog, and only with the right password', async (t) => {
    t.diagnostic(`argon2 oracle: ${oracle.name}`);
    const phc = await oracle.encode(checkNewPassword(PASSWORD), Buffer.from('saltsaltsaltsalt'), {
      m: 19_456,
      t: 2,
      p: 1,
    });
    assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(isStandardPhc(phc), true);
    assert.equal(await verifyPassword(phc, PASSWORD), true, 'the same password, not normalized');
    assert.equal(await verifyPassword(phc, `${PASSWORD}!`), false);
  });

  it('a hash in the old m,p,t order still verifies, is not standard, and asks for a rehash', async () => {
    const standard = await hashPassword(checkNewPassword(PASSWORD), ARGON2_FLOOR);
    const old = oldOrder(standard);
    assert.match(old, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    assert.equal(await verifyPassword(old, PASSWORD), true, 'existing hashes keep verifying');
    assert.equal(isStandardPhc(old), false);
    assert.equal(needsRehash(old, ARGON2_FLOOR), true, 'same parameters, non-standard form');
    assert.equal(needsRehash(standard, ARGON2_FLOOR), false);
    // Other non-standard forms: padded base64, an extra parameter, another version.
    assert.equal(isStandardPhc(`${standard}=`), false);
    assert.equal(isStandardPhc(standard.replace(',p=1$', ',p=1,keyid=AA$')), false);
    assert.equal(isStandardPhc(standard.replace('$v=19$', '$v=16$')), false);
  });
});
