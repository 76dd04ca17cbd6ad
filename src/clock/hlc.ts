// Hybrid logical clock (Kulkarni et al., 2014). A timestamp is physical milliseconds, a counter
// for events within one millisecond, and the node id as the final tie-break, so the order is
// total and respects happened-before: an event's HLC is greater than the HLC of every event the
// node had applied when it made it (the receive rule runs on every applied event), as long as
// those events were within the drift limit of the node's physical time (below).
//
// Encoded as a fixed-width string — 12 hex digits of ms, 4 of counter, '@', node — so that
// string order is HLC order, in JavaScript and in SQLite alike.
//
// Hostile values (issue 16, "clocks cannot be poisoned"). A peer can send any 12 + 4 hex digits:
// up to 2^48 - 1 ms (the year 10889) and 2^16 - 1 in the counter. Parsing one never throws, and
// the clock never merges a value further than `maxDriftMs` ahead of its own physical time: such a
// value is merged only as far as now + drift and reported through `onDrift`. Without the bound,
// one event stamped `fffffffffffffffe@…` pushed the clock to the top of the encoding, the next
// tick's counter borrowed a 13th digit of milliseconds, and every later write failed until a
// restart. The event itself is the caller's business: ingest holds an event whose physical time
// is ahead of the drift limit (`aheadOfNow`) until it is in range, so every applied event is
// within the bound and happened-before holds for all of them.

export type Hlc = { readonly wall: number; readonly counter: number; readonly node: string };

/** The largest physical time an HLC can carry: 12 hex digits of milliseconds (2^48 - 1). */
export const MAX_WALL_MS = 0xffff_ffff_ffff;
/** The largest counter: 4 hex digits. */
export const MAX_COUNTER = 0xffff;
/** How far ahead of local physical time a merged remote value may be, unless configured. */
export const DEFAULT_MAX_DRIFT_MS = 60_000;

const WALL_DIGITS = 12;
const COUNTER_DIGITS = 4;
const NODE_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const HLC_PATTERN = /^([0-9a-f]{12})([0-9a-f]{4})@([a-z0-9][a-z0-9-]{0,62})$/;

const quoted = (s: string): string => JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);

/** Refuses (RangeError, TypeError) any field the encoding cannot carry, so the result is always
 * a value `isHlc` accepts and `decodeHlc` gives back unchanged. */
export const encodeHlc = (h: Hlc): string => {
  if (!Number.isInteger(h.wall) || h.wall < 0 || h.wall > MAX_WALL_MS)
    throw new RangeError(`clock wall time out of range: ${h.wall}`);
  if (!Number.isInteger(h.counter) || h.counter < 0 || h.counter > MAX_COUNTER)
    throw new RangeError(`clock counter out of range: ${h.counter}`);
  if (typeof h.node !== 'string' || !NODE_PATTERN.test(h.node))
    throw new TypeError(`node id ${quoted(String(h.node))} cannot be part of a clock value`);
  return `${h.wall.toString(16).padStart(WALL_DIGITS, '0')}${h.counter.toString(16).padStart(COUNTER_DIGITS, '0')}@${h.node}`;
};

/** Any string `isHlc` accepts decodes (every field fits a safe integer); anything else is a
 * TypeError. */
export const decodeHlc = (s: string): Hlc => {
  const m = typeof s === 'string' ? HLC_PATTERN.exec(s) : null;
  if (!m) throw new TypeError(`not a hybrid logical clock value: ${quoted(String(s))}`);
  return { wall: Number.parseInt(m[1]!, 16), counter: Number.parseInt(m[2]!, 16), node: m[3]! };
};

export const isHlc = (s: string): boolean => typeof s === 'string' && HLC_PATTERN.test(s);

/** Milliseconds since the epoch that an encoded HLC carries. */
export const hlcWallMs = (s: string): number => decodeHlc(s).wall;

/** A physical time as the clock uses it: whole milliseconds within what the encoding carries
 * (NaN and negative times count as 0, anything past the year 10889 as its end). */
const clampMs = (ms: number): number =>
  ms >= MAX_WALL_MS ? MAX_WALL_MS : ms > 0 ? Math.floor(ms) : 0;

const driftOf = (maxDriftMs: number): number => {
  if (Number.isNaN(maxDriftMs) || maxDriftMs < 0)
    throw new RangeError(`maxDriftMs must be 0 or more: ${maxDriftMs}`);
  return maxDriftMs;
};

/** The latest physical time a clock reading `nowMs` merges: now + drift, within the encoding. */
const boundOf = (nowMs: number, maxDriftMs: number): number => clampMs(clampMs(nowMs) + maxDriftMs);

/**
 * How many milliseconds the physical time of `hlc` is beyond `nowMs + maxDriftMs`: 0 when the
 * value is in range, which is exactly when a clock reading `nowMs` with that drift limit merges
 * it whole (a later tick is greater than it, and no drift alarm is raised). Pure; a TypeError for
 * a string that is not an HLC (`isHlc`), as `decodeHlc`.
 *
 * Ingest calls it for each event of a peer's page, with the node's own physical time and drift
 * limit: an event with a positive answer is held (not stored, not applied, not relayed) and the
 * page stops there until the answer is 0.
 */
export const aheadOfNow = (hlc: string, nowMs: number, maxDriftMs: number): number => {
  const wall = decodeHlc(hlc).wall;
  const bound = boundOf(nowMs, driftOf(maxDriftMs));
  return wall > bound ? wall - bound : 0;
};

export type DriftAlarm = {
  /** The value that was ahead. */
  readonly remote: string;
  /** How far its physical time is ahead of local physical time. */
  readonly aheadMs: number;
  /** `receive`: an applied event's HLC; `start`: the value the clock was started from (the
   * node's own last stamped value, e.g. written before the bound existed). Either way the clock
   * went no further than now + drift. */
  readonly source: 'receive' | 'start';
};

export type Clock = {
  /** Send rule: the timestamp for a new local event. Strictly greater than every value it issued
   * before and every value merged by `receive`; always a valid HLC; never throws. */
  tick(): string;
  /** Receive rule: merge a timestamp of an event this node applies, at most as far as
   * now + maxDriftMs. A TypeError, and no change, for a string that is not an HLC. */
  receive(remote: string): void;
  /** The greatest (wall, counter) issued or merged so far, with this node's id: the next tick is
   * greater. */
  current(): string;
};

export type ClockOptions = {
  readonly node: string;
  readonly physicalMs?: () => number;
  /** How far ahead of local physical time a received (or start) value is merged. A value further
   * ahead is merged only up to now + maxDriftMs and reported through onDrift: the clock cannot be
   * pushed into the future by a peer. Default DEFAULT_MAX_DRIFT_MS. */
  readonly maxDriftMs?: number;
  readonly onDrift?: (alarm: DriftAlarm) => void;
  /** The latest timestamp this node is known to have issued or seen (e.g. after a restart). A
   * start beyond now + drift (a poisoned value stamped before the bound existed) is clamped to
   * now + drift and reported through onDrift with source `start`: new events may then sort below
   * that stored one, which keeps its LWW wins until physical time passes it, but the clock
   * itself is sound again. */
  readonly start?: string;
};

/**
 * A clock whose ticks are strictly increasing while the physical clock reads below
 * 2^48 - 1 - maxDriftMs ms (the year 10889): receive and start never take it beyond
 * now + drift, and a tick borrows at most 1 ms per 65536 ticks within one millisecond. Past
 * that, at the very top of the encoding, a tick returns `ffffffffffffffff@<node>` again rather
 * than throw or leave the encoding.
 */
export const createClock = (options: ClockOptions): Clock => {
  const physicalMs = options.physicalMs ?? Date.now;
  const maxDriftMs = driftOf(options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS);
  const node = options.node;
  if (typeof node !== 'string' || !NODE_PATTERN.test(node)) {
    throw new TypeError(`node id ${quoted(String(node))} cannot be part of a clock value`);
  }
  const now = () => clampMs(physicalMs());
  let wall = 0;
  let counter = 0;
  if (options.start !== undefined) {
    const s = decodeHlc(options.start);
    const pt = now();
    const bound = boundOf(pt, maxDriftMs);
    if (s.wall > bound) {
      options.onDrift?.({ remote: options.start, aheadMs: s.wall - pt, source: 'start' });
      wall = bound;
    } else {
      wall = s.wall;
      counter = s.counter;
    }
  }

  return {
    tick() {
      const pt = now();
      if (pt > wall) {
        wall = pt;
        counter = 0;
      } else if (counter < MAX_COUNTER) counter += 1;
      else if (wall < MAX_WALL_MS) {
        // Counter overflow borrows the next millisecond: still monotonic, at worst 1 ms ahead.
        wall += 1;
        counter = 0;
      }
      // else: the top of the encoding, out of reach unless physical time is within the drift
      // limit of the year 10889: the same value again, not an invalid one.
      return encodeHlc({ wall, counter, node });
    },
    receive(remote) {
      const r = decodeHlc(remote);
      // Not ahead of this clock (its own events among them): nothing to merge, nothing to report.
      if (r.wall < wall || (r.wall === wall && r.counter <= counter)) return;
      const pt = now();
      const bound = boundOf(pt, maxDriftMs);
      if (r.wall > bound) {
        options.onDrift?.({ remote, aheadMs: r.wall - pt, source: 'receive' });
        // Merged only as far as the bound (the next tick is above now + drift's first value).
        if (bound > wall) {
          wall = bound;
          counter = 0;
        }
        return;
      }
      // In range: the next tick is greater than it (tick bumps the counter or takes a later pt).
      wall = r.wall;
      counter = r.counter;
    },
    current: () => encodeHlc({ wall, counter, node }),
  };
};
