import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  compare,
  covers,
  decodeVector,
  encodeVector,
  merge,
  type VersionVector,
} from '../../src/clock/version-vector.ts';

const vv = fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.bigInt({ min: 0n, max: 20n }), {
  maxKeys: 3,
});

describe('version vectors', () => {
  it('merge is commutative, associative, idempotent and covers both inputs', () => {
    fc.assert(
      fc.property(vv, vv, vv, (a, b, c) => {
        assert.equal(compare(merge(a, b), merge(b, a)), 'equal');
        assert.equal(compare(merge(merge(a, b), c), merge(a, merge(b, c))), 'equal');
        assert.equal(compare(merge(a, a), a), 'equal');
        const m = merge(a, b);
        assert.ok(['after', 'equal'].includes(compare(m, a)));
        assert.ok(['after', 'equal'].includes(compare(m, b)));
      }),
    );
  });

  it('compare is antisymmetric', () => {
    const flip = {
      before: 'after',
      after: 'before',
      equal: 'equal',
      concurrent: 'concurrent',
    } as const;
    fc.assert(fc.property(vv, vv, (a, b) => assert.equal(compare(a, b), flip[compare(b, a)])));
  });

  it('round-trips through its wire form as decimal strings, never numbers', () => {
    fc.assert(
      fc.property(vv, (a) => {
        const wire = encodeVector(a);
        for (const v of Object.values(wire)) assert.equal(typeof v, 'string');
        assert.equal(compare(decodeVector(JSON.parse(JSON.stringify(wire))), a), 'equal');
      }),
    );
    const big: VersionVector = { a: 2n ** 60n + 1n };
    assert.equal(decodeVector(encodeVector(big)).a, 2n ** 60n + 1n);
  });

  it('covers reads absent origins as zero', () => {
    assert.ok(covers({}, 'x', 0n));
    assert.ok(!covers({}, 'x', 1n));
    assert.ok(covers({ x: 3n }, 'x', 3n));
  });

  it('refuses malformed wire forms', () => {
    for (const bad of [
      null,
      [],
      'x',
      { a: 1 },
      { a: '01' },
      { a: '-1' },
      { 'A B': '1' },
      { a: '1e3' },
    ]) {
      assert.throws(() => decodeVector(bad), TypeError, JSON.stringify(bad));
    }
  });
});
