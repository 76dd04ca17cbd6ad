// The event store port: the one interface both adapters (embedded SQLite, EventStoreDB) implement.
// Its shape follows EventStoreDB's model so the production store maps onto it without loss:
// 0-based stream revisions, a global `$all` order addressed by (commit, prepare) positions,
// expected-revision appends, and catch-up subscriptions. Revisions and positions are bigint,
// never JS numbers (DESIGN.md section 2, money rule).

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A position in the global (`$all`) order. The SQLite adapter uses commit === prepare === rowid. */
export type Position = { readonly commit: bigint; readonly prepare: bigint };

/**
 * What the writer believes about the stream before its append:
 * `no_stream` — it must not exist; `stream_exists` — it must exist; `any` — no check;
 * a bigint — the exact 0-based revision of the stream's last event.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

export type EventData = {
  /** Unique event id; the idempotency key. Adapters map it to their own id format. */
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
};

/** Where an adapter keeps the JSON text an event was stored as (see storedJson). */
export const STORED_JSON: unique symbol = Symbol('authlog.storedJson');

export type StoredJson = { readonly data: string; readonly metadata: string };

/**
 * The exact JSON text of a recorded event's data and metadata, when its adapter kept it (the
 * embedded store does; its columns are always JSON.stringify of checked JSON objects). Serving
 * it as is saves a parse and a stringify per event (the replication feed).
 */
export const storedJson = (event: RecordedEvent): StoredJson | undefined =>
  (event as { [STORED_JSON]?: StoredJson })[STORED_JSON];

export type RecordedEvent = EventData & {
  readonly stream: string;
  /** 0-based revision within its stream. */
  readonly revision: bigint;
  readonly position: Position;
};

export type AppendResult = {
  /** Revision of the last event now in the stream (pass it as the next expected revision). */
  readonly nextExpectedRevision: bigint;
  /** Global position of the last event appended (or found, on an idempotent retry). */
  readonly position: Position;
};

export type ReadStreamOptions = {
  readonly direction?: 'forwards' | 'backwards';
  /** Inclusive start revision; defaults to the first (forwards) or last (backwards) event. */
  readonly fromRevision?: bigint;
  readonly maxCount?: number;
};

export type ReadAllOptions = {
  /** Forwards (default) from the start or `after`; backwards from the end or `before`. */
  readonly direction?: 'forwards' | 'backwards';
  /** Forwards, exclusive: events strictly after this position. */
  readonly after?: Position;
  /** Backwards, exclusive: events strictly before this position. */
  readonly before?: Position;
  readonly maxCount?: number;
  /** Only events of streams whose name starts with this prefix (e.g. `origin-`). */
  readonly streamPrefix?: string;
};

export type SubscribeOptions = {
  /** Exclusive: deliver events strictly after this position; omitted means from the start. */
  readonly after?: Position;
  readonly streamPrefix?: string;
};

/** Items a catch-up subscription yields: every stored event once, in `$all` order. `caughtUp`
 * is yielded once, when the subscription has delivered everything that existed when it reached
 * the end of the log; live events follow it. */
export type SubscriptionItem =
  | { readonly kind: 'event'; readonly event: RecordedEvent }
  | { readonly kind: 'caughtUp'; readonly position: Position | undefined };

export type Subscription = AsyncIterable<SubscriptionItem> & {
  /** Ends the iteration; pending `next()` calls resolve with `done`. */
  stop(): Promise<void>;
};

export type EventStore = {
  readonly kind: string;
  /** Appends atomically: all events or none. Throws ConcurrencyError when the expected revision
   * does not hold. Appending event ids that are already the stream's events at that place
   * succeeds without writing anything (idempotent retry). */
  append(
    stream: string,
    events: readonly EventData[],
    options?: { readonly expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult>;
  /** Events of one stream; an unknown stream reads as empty. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Revision of the stream's last event, or undefined when the stream does not exist. */
  streamRevision(stream: string): Promise<bigint | undefined>;
  /** One page of the global log. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Position of the last event in the log, or undefined when it is empty. */
  headPosition(): Promise<Position | undefined>;
  subscribe(options?: SubscribeOptions): Subscription;
  close(): Promise<void>;
};

export const positionToString = (p: Position): string => `${p.commit}/${p.prepare}`;

export const positionFromString = (s: string): Position => {
  const match = /^(\d{1,20})\/(\d{1,20})$/.exec(s);
  if (!match) throw new TypeError(`not a store position: ${JSON.stringify(s)}`);
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
};

export const comparePositions = (a: Position, b: Position): number =>
  a.commit === b.commit
    ? a.prepare === b.prepare
      ? 0
      : a.prepare < b.prepare
        ? -1
        : 1
    : a.commit < b.commit
      ? -1
      : 1;
