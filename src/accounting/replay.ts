// Point-in-time replay: a read model as it was at a point of the past, built into a separate
// SQLite file by the ordinary rebuild (same projector, same projections) over the log with the
// later events left out, then questions asked of it with the ordinary authorization engine.
//
// Two kinds of point, two meanings of "as of":
// - `--until <ISO time>`: every event whose HLC time is at or before T, from every origin. An
//   event's HLC time is its origin's clock when it was accepted, and HLCs respect causality (an
//   event's causes have smaller HLCs), so the cut is causally closed: it never holds an effect
//   without its cause. It is what had happened by T anywhere, as far as the log knows now: an
//   event accepted before T at a site that was cut off is included, although no other node knew
//   of it at T. Clocks of different sites disagree by up to their skew (see the drift alarm).
// - `--until <origin>:<seq>`: what node `origin` had applied when it accepted its event `seq`,
//   plus that event: its causal past (the event's `deps` version vector). That is exactly what
//   that node saw when it decided, so "why was this allowed" is answered in the state it was
//   decided against.
import { fromRecorded, originStream } from '../events/envelope.ts';
import { type RebuildProgress, type RebuildResult, rebuildReadModel } from '../node/rebuild.ts';
import type { Founders } from '../node/trust.ts';
import type { Projection } from '../readmodel/projection.ts';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../store/port.ts';
import { hlcFloor } from './queries.ts';

export type Until =
  | { readonly kind: 'time'; readonly ms: number }
  | { readonly kind: 'seq'; readonly origin: string; readonly seq: bigint };

export class ReplayError extends Error {
  override readonly name = 'ReplayError';
}

const ORIGIN_SEQ = /^([a-z0-9][a-z0-9-]{0,62}):([1-9][0-9]{0,18})$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** `2026-03-01T12:00:00Z`, `2026-03-01` (midnight UTC) or `node-a:1234`. */
export const parseUntil = (text: string): Until => {
  const m = ORIGIN_SEQ.exec(text);
  if (m) return { kind: 'seq', origin: m[1]!, seq: BigInt(m[2]!) };
  const ms = ISO_TIME.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0)
    throw new ReplayError(
      `--until: an ISO 8601 time with a zone (2026-03-01T12:00:00Z), a date, or origin:seq (node-a:42), not ${JSON.stringify(text)}`,
    );
  return { kind: 'time', ms };
};

export const describeUntil = (u: Until): string =>
  u.kind === 'time' ? new Date(u.ms).toISOString() : `${u.origin}:${u.seq}`;

/** Which stored events belong to the state as of `until`. */
export const cutOf = async (
  store: EventStore,
  until: Until,
): Promise<(r: RecordedEvent) => boolean> => {
  if (until.kind === 'time') {
    // HLCs start with 12 hex digits of milliseconds: everything in T's millisecond is in.
    const bound = hlcFloor(until.ms + 1);
    return (r) => typeof r.metadata.hlc === 'string' && r.metadata.hlc < bound;
  }
  const [target] = await store.readStream(originStream(until.origin), {
    fromRevision: until.seq - 1n,
    maxCount: 1,
  });
  if (!target) throw new ReplayError(`this log has no event ${until.origin}:${until.seq}`);
  const cut = new Map<string, bigint>(
    Object.entries(fromRecorded(target).deps).map(([o, s]) => [o, BigInt(s)]),
  );
  cut.set(until.origin, until.seq);
  return (r) => {
    const { origin, seq } = r.metadata;
    return (
      typeof origin === 'string' &&
      typeof seq === 'string' &&
      /^[0-9]{1,19}$/.test(seq) &&
      BigInt(seq) <= (cut.get(origin) ?? 0n)
    );
  };
};

/** The store with only the events `keep` accepts; each page read skips ahead past the others. */
export const filteredStore = (
  store: EventStore,
  keep: (r: RecordedEvent) => boolean,
): EventStore => ({
  ...store,
  async readAll(options: ReadAllOptions = {}) {
    let after = options.after;
    for (;;) {
      const page = await store.readAll({ ...options, ...(after ? { after } : {}) });
      if (page.length === 0) return [];
      const kept = page.filter(keep);
      // An empty page would read as the end of the log to the caller: read on instead.
      if (kept.length > 0) return kept;
      after = page.at(-1)!.position;
    }
  },
});

export type ReplayOptions = {
  readonly store: EventStore;
  /** The file to write; it must not be the live read model. */
  readonly path: string;
  readonly until: Until;
  readonly projections: readonly Projection[];
  /** The cluster's founders: every event replayed is checked from their keys (node/chain.ts). */
  readonly founders: Founders;
  readonly batchSize?: number;
  readonly onProgress?: (p: RebuildProgress) => void;
};

/** Builds the read model as of `until` into `path` (beside it, then swapped in). */
export const replayUntil = async (options: ReplayOptions): Promise<RebuildResult> => {
  const keep = await cutOf(options.store, options.until);
  return rebuildReadModel({
    store: filteredStore(options.store, keep),
    path: options.path,
    projections: options.projections,
    founders: options.founders,
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
};
