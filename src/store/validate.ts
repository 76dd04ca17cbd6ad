import type {
  EventData,
  ExpectedRevision,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
} from './port.ts';

// Callers are typed, but the store is the last line before bytes hit the disk: reject what
// would not round-trip (NaN, undefined, class instances, bigint) instead of storing it mangled.

export const MAX_INT64 = 9223372036854775807n;

// A lone surrogate cannot be encoded as UTF-8, so SQLite would store a different name.
const LONE_SURROGATE = /\p{Cs}/u;

export function assertStreamName(stream: string, what = 'stream name'): void {
  if (typeof stream !== 'string' || stream.length === 0) {
    throw new TypeError(`${what} must be a non-empty string`);
  }
  if (LONE_SURROGATE.test(stream)) throw new TypeError(`${what} is not well-formed Unicode`);
}

export function assertPrefix(prefix: string | undefined): void {
  if (prefix === undefined || prefix === '') return;
  assertStreamName(prefix, 'stream prefix');
}

const isRevision = (value: bigint): boolean =>
  typeof value === 'bigint' && value >= 0n && value <= MAX_INT64;

export function assertExpectedRevision(expected: ExpectedRevision): void {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return;
  if (!isRevision(expected)) {
    throw new TypeError(`expected revision ${String(expected)} is not a revision or mode`);
  }
}

export function assertPosition(position: Position | undefined): void {
  if (position === undefined) return;
  if (!isRevision(position.commit) || !isRevision(position.prepare)) {
    throw new TypeError('position must hold non-negative bigint commit and prepare');
  }
}

export function assertMaxCount(maxCount: number | undefined): void {
  if (maxCount === undefined) return;
  if (!Number.isSafeInteger(maxCount) || maxCount < 0) {
    throw new TypeError(`maxCount ${String(maxCount)} must be a non-negative integer`);
  }
}

export function assertReadStreamOptions(options: ReadStreamOptions): void {
  const { direction, fromRevision } = options;
  if (direction !== undefined && direction !== 'forwards' && direction !== 'backwards') {
    throw new TypeError(`unknown read direction ${String(direction)}`);
  }
  if (fromRevision !== undefined && !isRevision(fromRevision)) {
    throw new TypeError(`fromRevision ${String(fromRevision)} is not a revision`);
  }
  assertMaxCount(options.maxCount);
}

export function assertEvents(events: readonly EventData[]): void {
  if (!Array.isArray(events)) throw new TypeError('events must be an array');
  const ids = new Set<string>();
  events.forEach((event, index) => {
    const where = `events[${index}]`;
    if (typeof event.id !== 'string' || event.id.length === 0) {
      throw new TypeError(`${where}.id must be a non-empty string`);
    }
    if (ids.has(event.id)) throw new TypeError(`${where}.id ${event.id} repeats in the batch`);
    ids.add(event.id);
    if (typeof event.type !== 'string' || event.type.length === 0) {
      throw new TypeError(`${where}.type must be a non-empty string`);
    }
    assertJsonObject(event.data, `${where}.data`);
    assertJsonObject(event.metadata, `${where}.metadata`);
  });
}

const isPlainObject = (value: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

function assertJsonObject(value: unknown, path: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${path} must be a JSON object`);
  }
  assertJson(value, path, new Set());
}

function assertJson(value: unknown, path: string, ancestors: Set<object>): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return;
    throw new TypeError(`${path}: ${value} has no JSON form`);
  }
  if (typeof value !== 'object' || !(Array.isArray(value) || isPlainObject(value))) {
    throw new TypeError(`${path}: ${typeof value} is not a JSON value`);
  }
  if (ancestors.has(value)) throw new TypeError(`${path}: circular reference`);
  ancestors.add(value);
  for (const [key, item] of Object.entries(value)) assertJson(item, `${path}.${key}`, ancestors);
  ancestors.delete(value);
}

/** The options of a global-log read, as every adapter accepts them. */
export function assertReadAllOptions(options: ReadAllOptions): void {
  const { direction = 'forwards', after, before, maxCount, streamPrefix } = options;
  if (direction !== 'forwards' && direction !== 'backwards') {
    throw new TypeError('direction must be forwards or backwards');
  }
  if ((direction === 'forwards' && before) || (direction === 'backwards' && after)) {
    throw new TypeError('forwards reads take `after`, backwards reads take `before`');
  }
  assertPosition(after);
  assertPosition(before);
  assertMaxCount(maxCount);
  assertPrefix(streamPrefix);
}
