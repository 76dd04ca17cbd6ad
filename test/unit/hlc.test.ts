import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createClock, decodeHlc, encodeHlc } from '../../src/clock/hlc.ts';

describe('hybrid logical clock', () => {
  it('encodes so that string order is (wall, counter, node) order', () => {
    const hlc = fc.record({
      wall: fc.integer({ min: 0, max: 2 ** 47 }),
      counter: fc.integer({ min: 0, max: 0xffff }),
      node: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/),
    });
    fc.assert(
      fc.property(hlc, hlc, (a, b) => {
        const byFields =
          a.wall - b.wall ||
          a.counter - b.counter ||
          (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);
        const ea = encodeHlc(a);
        const eb = encodeHlc(b);
        const byString = ea < eb ? -1 : ea > eb ? 1 : 0;
        assert.equal(Math.sign(byFields), byString);
        assert.deepEqual(decodeHlc(ea), { wall: a.wall, counter: a.counter, node: a.node });
      }),
    );
  });

  it('ticks strictly increase even when physical time stands still or goes back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 200 }),
        (times) => {
          let i = 0;
          const clock = createClock({
            node: 'a',
            physicalMs: () => times[Math.min(i++, times.length - 1)]!,
          });
          let last = '';
          for (let k = 0; k < times.length; k++) {
            const t = clock.tick();
            assert.ok(t > last, `${t} > ${last}`);
            last = t;
          }
        },
      ),
    );
  });

  it('after receiving a timestamp, the next tick is greater (happened-before is respected)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 0xffff }),
        (local, remoteWall, remoteCounter) => {
          const clock = createClock({ node: 'b', physicalMs: () => local, maxDriftMs: 1e9 });
          const remote = encodeHlc({ wall: remoteWall, counter: remoteCounter, node: 'a' });
          clock.receive(remote);
          assert.ok(clock.tick() > remote);
        },
      ),
    );
  });

  it('accepts a remote clock beyond the drift limit but raises an alarm', () => {
    const alarms: number[] = [];
    const clock = createClock({
      node: 'b',
      physicalMs: () => 1000,
      maxDriftMs: 500,
      onDrift: (a) => alarms.push(a.aheadMs),
    });
    clock.receive(encodeHlc({ wall: 1400, counter: 0, node: 'a' }));
    assert.deepEqual(alarms, []);
    clock.receive(encodeHlc({ wall: 5000, counter: 3, node: 'a' }));
    assert.deepEqual(alarms, [4000]);
    assert.ok(clock.tick() > encodeHlc({ wall: 5000, counter: 3, node: 'a' }));
  });

  it('resumes after a restart from the last timestamp it issued', () => {
    const before = encodeHlc({ wall: 9000, counter: 7, node: 'n' });
    const clock = createClock({ node: 'n', physicalMs: () => 100, start: before });
    assert.ok(clock.tick() > before);
  });

  it('refuses malformed values', () => {
    for (const bad of [
      '',
      'zz',
      '0000000000000000@',
      '0000000000000000@A',
      `${'f'.repeat(16)}@a b`,
    ]) {
      assert.throws(() => decodeHlc(bad), TypeError);
    }
    assert.throws(() => createClock({ node: 'Bad Node' }), TypeError);
  });
});
