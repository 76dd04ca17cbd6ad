// Hybrid logical clock (Kulkarni et al., 2014). A timestamp is physical milliseconds, a counter
// for events within one millisecond, and the node id as the final tie-break, so the order is
// total and respects happened-before: an event's HLC is greater than the HLC of every event the
// node had applied when it made it (the receive rule runs on every applied event).
//
// Encoded as a fixed-width string — 12 hex digits of ms, 4 of counter, '@', node — so that
// string order is HLC order, in JavaScript and in SQLite alike.

export type Hlc = { readonly wall: number; readonly counter: number; readonly node: string };

const WALL_DIGITS = 12;
const COUNTER_DIGITS = 4;
const MAX_COUNTER = 0xffff;
const HLC_PATTERN = /^([0-9a-f]{12})([0-9a-f]{4})@([a-z0-9][a-z0-9-]{0,62})$/;

export const encodeHlc = (h: Hlc): string =>
  `${h.wall.toString(16).padStart(WALL_DIGITS, '0')}${h.counter.toString(16).padStart(COUNTER_DIGITS, '0')}@${h.node}`;

export const decodeHlc = (s: string): Hlc => {
  const m = HLC_PATTERN.exec(s);
  if (!m) throw new TypeError(`not a hybrid logical clock value: ${JSON.stringify(s)}`);
  return { wall: Number.parseInt(m[1]!, 16), counter: Number.parseInt(m[2]!, 16), node: m[3]! };
};

export const isHlc = (s: string): boolean => HLC_PATTERN.test(s);

/** Milliseconds since the epoch that an encoded HLC carries. */
export const hlcWallMs = (s: string): number => decodeHlc(s).wall;

export type DriftAlarm = { readonly remote: string; readonly aheadMs: number };

export type Clock = {
  /** Send rule: the timestamp for a new local event. */
  tick(): string;
  /** Receive rule: merge a timestamp of an event this node applies. */
  receive(remote: string): void;
  current(): string;
};

export type ClockOptions = {
  readonly node: string;
  readonly physicalMs?: () => number;
  /** A remote timestamp further ahead of local physical time than this is still accepted
   * (refusing it would stop convergence) but reported through onDrift. */
  readonly maxDriftMs?: number;
  readonly onDrift?: (alarm: DriftAlarm) => void;
  /** The latest timestamp this node is known to have issued or seen (e.g. after a restart). */
  readonly start?: string;
};

export const createClock = (options: ClockOptions): Clock => {
  const physicalMs = options.physicalMs ?? Date.now;
  const maxDriftMs = options.maxDriftMs ?? 60_000;
  const node = options.node;
  if (!HLC_PATTERN.test(encodeHlc({ wall: 0, counter: 0, node }))) {
    throw new TypeError(`node id ${JSON.stringify(node)} cannot be part of a clock value`);
  }
  const start = options.start === undefined ? undefined : decodeHlc(options.start);
  let wall = start?.wall ?? 0;
  let counter = start?.counter ?? 0;

  // Counter overflow borrows the next millisecond: still monotonic, at worst 1 ms ahead.
  const bump = () => {
    if (counter < MAX_COUNTER) counter += 1;
    else {
      wall += 1;
      counter = 0;
    }
  };

  return {
    tick() {
      const pt = physicalMs();
      if (pt > wall) {
        wall = pt;
        counter = 0;
      } else bump();
      return encodeHlc({ wall, counter, node });
    },
    receive(remote) {
      const r = decodeHlc(remote);
      const pt = physicalMs();
      if (r.wall - pt > maxDriftMs) options.onDrift?.({ remote, aheadMs: r.wall - pt });
      if (pt > wall && pt > r.wall) {
        wall = pt;
        counter = 0;
      } else if (r.wall > wall) {
        wall = r.wall;
        counter = r.counter;
        bump();
      } else if (r.wall === wall) {
        counter = Math.max(counter, r.counter);
        bump();
      } else bump();
    },
    current: () => encodeHlc({ wall, counter, node }),
  };
};
