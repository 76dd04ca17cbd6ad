// Threat: a poisoned clock (issue 16 item 5). One replicated event stamped far in the future
// (`fffffffffffffffe@site-evil`) pushed the node's hybrid logical clock to the top of its encoding,
// the next tick overflowed it, and every later write and login answered 500 until a restart;
// the future value would also win every LWW register. Here: the clock's order and send/receive
// rules, the review's exact case, a poisoned start value, the top of the encoding, and
// `aheadOfNow` (which ingest uses to hold such events). Arbitrary values: hlc-hostile.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  aheadOfNow,
  createClock,
  type DriftAlarm,
  decodeHlc,
  encodeHlc,
  isHlc,
  MAX_COUNTER,
  MAX_WALL_MS,
} from '../../src/clock/hlc.ts';

describe('hybrid logical clock', () => {
  it('encodes so that string order is (wall, counter, node) order', () => {
    const hlc = fc.record({
      wall: fc.integer({ min: 0, max: MAX_WALL_MS }),
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

  it('merges a remote clock beyond the drift limit only as far as now + drift, and raises an alarm', () => {
    const alarms: DriftAlarm[] = [];
    const clock = createClock({
      node: 'b',
      physicalMs: () => 1000,
      maxDriftMs: 500,
      onDrift: (a) => alarms.push(a),
    });
    const near = encodeHlc({ wall: 1500, counter: 7, node: 'a' });
    clock.receive(near);
    assert.deepEqual(alarms, []);
    assert.ok(clock.tick() > near);
    const far = encodeHlc({ wall: 5000, counter: 3, node: 'a' });
    clock.receive(far);
    assert.deepEqual(alarms, [{ remote: far, aheadMs: 4000, source: 'receive' }]);
    const t = clock.tick();
    assert.ok(t < far);
    assert.ok(decodeHlc(t).wall <= 1500);
  });

  it('survives the review case: fffffffffffffffe@site-evil, then ticks (issue 16)', () => {
    const now = Date.UTC(2025, 5, 1);
    const alarms: DriftAlarm[] = [];
    const clock = createClock({
      node: 'site-v',
      physicalMs: () => now,
      onDrift: (a) => alarms.push(a),
    });
    const before = clock.tick();
    clock.receive('fffffffffffffffe@site-evil');
    assert.deepEqual(alarms, [
      { remote: 'fffffffffffffffe@site-evil', aheadMs: MAX_WALL_MS - now, source: 'receive' },
    ]);
    assert.ok(decodeHlc(clock.current()).wall <= now + 60_000);
    let last = before;
    // More ticks than the counter holds: the borrowed milliseconds stay valid and increasing.
    for (let i = 0; i < MAX_COUNTER + 10; i++) {
      const t = clock.tick();
      assert.ok(t > last, `${t} > ${last}`);
      last = t;
    }
    assert.ok(isHlc(last));
    assert.ok(decodeHlc(last).wall <= now + 60_000 + 1);
    assert.equal(aheadOfNow('fffffffffffffffe@site-evil', now, 60_000), MAX_WALL_MS - now - 60_000);
  });

  it('clamps a poisoned start value to now + drift and reports it', () => {
    const now = Date.UTC(2025, 5, 1);
    const alarms: DriftAlarm[] = [];
    const clock = createClock({
      node: 'site-v',
      physicalMs: () => now,
      maxDriftMs: 1000,
      start: 'ffffffffffffffff@site-v',
      onDrift: (a) => alarms.push(a),
    });
    assert.deepEqual(alarms, [
      { remote: 'ffffffffffffffff@site-v', aheadMs: MAX_WALL_MS - now, source: 'start' },
    ]);
    const a = clock.tick();
    const b = clock.tick();
    assert.ok(isHlc(a) && isHlc(b) && a < b);
    assert.equal(decodeHlc(a).wall, now + 1000);
  });

  it('at the top of the encoding a tick repeats the top value instead of throwing', () => {
    // Only reachable with a physical clock within the drift limit of the year 10889.
    const clock = createClock({ node: 'z', physicalMs: () => Number.POSITIVE_INFINITY });
    clock.receive(encodeHlc({ wall: MAX_WALL_MS, counter: MAX_COUNTER - 1, node: 'a' }));
    assert.equal(clock.tick(), 'ffffffffffffffff@z');
    assert.equal(clock.tick(), 'ffffffffffffffff@z');
    const nan = createClock({ node: 'z', physicalMs: () => Number.NaN });
    assert.equal(nan.tick(), '0000000000000001@z');
  });

  it('aheadOfNow: 0 in range, the milliseconds beyond now + drift otherwise', () => {
    const at = (wall: number) => encodeHlc({ wall, counter: 5, node: 'a' });
    assert.equal(aheadOfNow(at(0), 1000, 500), 0);
    assert.equal(aheadOfNow(at(1500), 1000, 500), 0);
    assert.equal(aheadOfNow(at(1501), 1000, 500), 1);
    assert.equal(aheadOfNow(at(MAX_WALL_MS), 1000, 0), MAX_WALL_MS - 1000);
    assert.equal(aheadOfNow(at(MAX_WALL_MS), MAX_WALL_MS - 10, 500), 0);
    assert.throws(() => aheadOfNow('not an hlc', 1000, 500), TypeError);
    assert.throws(() => aheadOfNow(at(0), 1000, -1), RangeError);
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
      assert.equal(isHlc(bad), false);
    }
    for (const h of [
      { wall: MAX_WALL_MS + 1, counter: 0, node: 'a' },
      { wall: -1, counter: 0, node: 'a' },
      { wall: 1.5, counter: 0, node: 'a' },
      { wall: 0, counter: MAX_COUNTER + 1, node: 'a' },
      { wall: 0, counter: Number.NaN, node: 'a' },
    ]) {
      assert.throws(() => encodeHlc(h), RangeError);
    }
    assert.throws(() => encodeHlc({ wall: 0, counter: 0, node: 'A' }), TypeError);
    assert.throws(() => createClock({ node: 'Bad Node' }), TypeError);
  });
});
