// Threat: a peer poisoning the hybrid logical clock (issue 16 item 5). A peer can put any 16 hex
// digits in an event's HLC (any 64-bit value: up to 2^48 - 1 ms and 2^16 - 1 in the counter) or,
// past the feed's checks, any string at all. For arbitrary values, fed to decodeHlc, isHlc,
// aheadOfNow and a clock's start and receive, with physical time standing still, jumping and
// going back:
// - nothing throws, except a clean TypeError for a string isHlc rejects (and the clock is then
//   unchanged); every valid value decodes, re-encodes to itself, and has a printable date;
// - encodeHlc never makes a string isHlc rejects, and string order is HLC order over the whole
//   range;
// - receive never moves the clock beyond physical time + maxDriftMs (a value further ahead is
//   reported, not merged past it), and neither does start;
// - ticks are strictly increasing, always valid, and greater than every value merged in range
//   (happened-before), whatever was received; with a physical clock that is itself absurd (NaN,
//   infinite, past the year 10889) they still never throw and never leave the encoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  aheadOfNow,
  createClock,
  type DriftAlarm,
  decodeHlc,
  encodeHlc,
  type Hlc,
  hlcWallMs,
  isHlc,
  MAX_COUNTER,
  MAX_WALL_MS,
} from '../../src/clock/hlc.ts';

const RUNS = Number(process.env.HLC_HOSTILE_RUNS ?? 300);
const NOW = Date.UTC(2025, 5, 1);

const nodeId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/);
const wall48 = fc.oneof(
  fc.integer({ min: 0, max: MAX_WALL_MS }),
  fc.constantFrom(0, 1, MAX_WALL_MS - 1, MAX_WALL_MS),
  fc.integer({ min: NOW - 120_000, max: NOW + 120_000 }),
);
const counter16 = fc.oneof(
  fc.integer({ min: 0, max: MAX_COUNTER }),
  fc.constantFrom(0, MAX_COUNTER - 1, MAX_COUNTER),
);
const hlcFields: fc.Arbitrary<Hlc> = fc.record({ wall: wall48, counter: counter16, node: nodeId });
/** Any 64-bit value as a peer would send it. */
const anyBits = fc
  .tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), nodeId)
  .map(([b, node]) => `${b.toString(16).padStart(16, '0')}@${node}`);
const validHlc = fc.oneof(hlcFields.map(encodeHlc), anyBits);
/** Strings that are not HLCs, many of them nearly so. */
const nearMiss = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  validHlc.map((s) => s.toUpperCase()),
  validHlc.map((s) => `1${s}`),
  validHlc.map((s) => s.slice(1)),
  validHlc.map((s) => `${s}\n`),
  validHlc.map((s) => ` ${s}`),
  validHlc.map((s) => s.replace('@', '@@')),
  validHlc.map((s) => `${s}${'x'.repeat(63)}`),
  fc.constantFrom('', '@', '0000000000000000@', '-000000000000001@a', '0x00000000000000@a'),
);
const anyString = fc.oneof(validHlc, nearMiss);

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const fieldCmp = (a: Hlc, b: Hlc) =>
  Math.sign(a.wall - b.wall || a.counter - b.counter) || cmp(a.node, b.node);

describe('hostile clock values', () => {
  it('any string: isHlc decides, decodeHlc and aheadOfNow either decode or throw a TypeError', () => {
    fc.assert(
      fc.property(anyString, fc.integer({ min: 0, max: MAX_WALL_MS }), (s, now) => {
        if (isHlc(s)) {
          const h = decodeHlc(s);
          assert.ok(Number.isSafeInteger(h.wall) && h.wall >= 0 && h.wall <= MAX_WALL_MS);
          assert.ok(Number.isSafeInteger(h.counter) && h.counter >= 0 && h.counter <= MAX_COUNTER);
          assert.equal(encodeHlc(h), s);
          // What the audit trail, the CLI and the read models print for it.
          assert.match(new Date(hlcWallMs(s)).toISOString(), /Z$/);
          const ahead = aheadOfNow(s, now, 60_000);
          assert.equal(ahead, Math.max(0, h.wall - Math.min(MAX_WALL_MS, now + 60_000)));
        } else {
          assert.throws(() => decodeHlc(s), TypeError);
          assert.throws(() => hlcWallMs(s), TypeError);
          assert.throws(() => aheadOfNow(s, now, 60_000), TypeError);
        }
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('encodeHlc gives a valid value for fields it can carry, and refuses the rest', () => {
    const loose = fc.record({
      wall: fc.oneof(wall48, fc.double(), fc.integer({ min: MAX_WALL_MS, max: 2 ** 53 })),
      counter: fc.oneof(counter16, fc.double(), fc.integer()),
      node: fc.oneof(nodeId, fc.string()),
    });
    fc.assert(
      fc.property(loose, (h) => {
        let s: string;
        try {
          s = encodeHlc(h);
        } catch (err) {
          assert.ok(err instanceof RangeError || err instanceof TypeError, String(err));
          return;
        }
        assert.ok(isHlc(s), s);
        // -0 is carried as 0 (`+ 0` makes it so for the comparison).
        assert.deepEqual(decodeHlc(s), { wall: h.wall + 0, counter: h.counter + 0, node: h.node });
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('string order is HLC order over the whole 48-bit range', () => {
    fc.assert(
      fc.property(validHlc, validHlc, (a, b) => {
        assert.equal(cmp(a, b), fieldCmp(decodeHlc(a), decodeHlc(b)));
      }),
      { numRuns: RUNS * 3 },
    );
  });

  type Op =
    | { readonly op: 'tick' }
    | { readonly op: 'receive'; readonly value: string }
    | { readonly op: 'time'; readonly to: number };

  const ops = (time: fc.Arbitrary<number>): fc.Arbitrary<Op[]> =>
    fc.array(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant<Op>({ op: 'tick' }) },
        { weight: 4, arbitrary: anyString.map((value): Op => ({ op: 'receive', value })) },
        { weight: 2, arbitrary: time.map((to): Op => ({ op: 'time', to })) },
      ),
      { maxLength: 120 },
    );

  it('receive never takes the clock beyond now + drift; ticks stay valid, increasing and after what was merged', () => {
    // Physical time anywhere below the top of the encoding minus the drift limit: the range in
    // which the clock promises strictly increasing ticks.
    const drift = fc.oneof(fc.constantFrom(0, 1, 500, 60_000), fc.integer({ min: 0, max: 1e9 }));
    const top = MAX_WALL_MS - 1e9 - 1;
    const time = fc.oneof(
      fc.integer({ min: NOW - 300_000, max: NOW + 300_000 }),
      fc.integer({ min: 0, max: top }),
      fc.constantFrom(0, top),
    );
    fc.assert(
      fc.property(
        drift,
        time,
        fc.option(validHlc),
        nodeId,
        ops(time),
        (maxDriftMs, t0, start, node, steps) => {
          let pt = t0;
          const alarms: DriftAlarm[] = [];
          const clock = createClock({
            node,
            maxDriftMs,
            physicalMs: () => pt,
            onDrift: (a) => alarms.push(a),
            ...(start === null ? {} : { start }),
          });
          let ceiling = pt + maxDriftMs;
          const wallOf = () => decodeHlc(clock.current()).wall;
          assert.ok(wallOf() <= ceiling, 'start is clamped to now + drift');
          if (start !== null) {
            assert.equal(alarms.length, aheadOfNow(start, pt, maxDriftMs) > 0 ? 1 : 0);
          }
          let lastTick = '';
          let merged = ''; // the greatest value merged whole (in range when received)
          for (const step of steps) {
            const before = clock.current();
            const wallBefore = wallOf();
            if (step.op === 'time') {
              pt = step.to;
              ceiling = Math.max(ceiling, pt + maxDriftMs);
            } else if (step.op === 'tick') {
              const t = clock.tick();
              assert.ok(isHlc(t), t);
              assert.equal(decodeHlc(t).node, node);
              assert.ok(t > lastTick, `${t} > ${lastTick}`);
              assert.ok(merged === '' || fieldCmp(decodeHlc(t), decodeHlc(merged)) > 0);
              assert.ok(decodeHlc(t).wall <= Math.max(wallBefore + 1, pt));
              lastTick = t;
            } else if (!isHlc(step.value)) {
              assert.throws(() => clock.receive(step.value), TypeError);
              assert.equal(clock.current(), before);
            } else {
              const n = alarms.length;
              clock.receive(step.value);
              const r = decodeHlc(step.value);
              const ahead = aheadOfNow(step.value, pt, maxDriftMs);
              assert.ok(clock.current() >= before, 'receive never moves the clock back');
              assert.ok(
                wallOf() <= Math.max(wallBefore, pt + maxDriftMs),
                'bounded by now + drift',
              );
              if (ahead === 0) {
                if (merged === '' || fieldCmp(r, decodeHlc(merged)) > 0) merged = step.value;
                assert.equal(alarms.length, n, 'no alarm for a value in range');
              } else if (r.wall > wallBefore) {
                assert.deepEqual(alarms.slice(n), [
                  { remote: step.value, aheadMs: r.wall - pt, source: 'receive' },
                ]);
              }
            }
            // Fewer ticks than a counter holds: at most one borrowed millisecond past the bound.
            assert.ok(wallOf() <= ceiling + 1, `${clock.current()} within ${ceiling} + 1`);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('with an absurd physical clock (NaN, infinite, negative, past the year 10889) nothing throws and every tick is valid', () => {
    const time = fc.oneof(
      fc.double(),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1),
      fc.integer({ min: MAX_WALL_MS - 100_000, max: MAX_WALL_MS + 100_000 }),
    );
    const drift = fc.oneof(
      fc.double({ min: 0, noNaN: true }),
      fc.constantFrom(0, Number.POSITIVE_INFINITY),
    );
    fc.assert(
      fc.property(drift, time, fc.option(validHlc), ops(time), (maxDriftMs, t0, start, steps) => {
        let pt = t0;
        const clock = createClock({
          node: 'v',
          maxDriftMs,
          physicalMs: () => pt,
          ...(start === null ? {} : { start }),
        });
        let lastTick = '';
        for (const step of steps) {
          if (step.op === 'time') pt = step.to;
          else if (step.op === 'tick') {
            const t = clock.tick();
            assert.ok(isHlc(t), t);
            // Strict except at the very top of the encoding, where it repeats.
            assert.ok(t > lastTick || t === 'ffffffffffffffff@v', `${t} after ${lastTick}`);
            lastTick = t;
          } else if (isHlc(step.value)) clock.receive(step.value);
          else assert.throws(() => clock.receive(step.value), TypeError);
          assert.ok(isHlc(clock.current()));
        }
      }),
      { numRuns: RUNS },
    );
  });
});
