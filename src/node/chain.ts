// Tamper evidence (docs/operations.md, *Tamper evidence*): every event is signed by its origin and
// names the hash of its origin's previous event (src/events/signature.ts), so each origin's stream
// is a hash chain. This module walks a stored log and says where a chain breaks: an event changed
// after it was signed (bad-signature), one taken out (gap, or broken-chain when the next one was
// renumbered), an unsigned or unreadable one, one whose origin nobody vouches for.
//
// It checks integrity, not policy: whether an origin was allowed to write an event (its families,
// a removal) was decided at ingest and is applied by the projections; a removed node's events
// stored before its removal was known are intact events. The per-event check is trust.ts's
// `checkSigned`, the one ingest runs, so a log verifies exactly when ingest would take it again.
//
// Keys: a founder's from its seq 1 (the cluster file), an enrolled node's from the `NodeEnrolled`
// event that names it (the earliest enrollment of an id stands, as in projections/cluster.ts), and
// from seq n + 1 the key the origin's own `NodeKeyRotated` at seq n names. Learned from the events
// walked, in store order, so a log checks without a read model; a node's start uses its read
// model's keys too (`trustKeys`). Certificate Transparency calls this an auditor's consistency
// check (RFC 9162, section 2.1.4); here the log is per origin and each link is signed.
import { AppError } from '../errors.ts';
import {
  type Envelope,
  fromRecorded,
  ORIGIN_STREAM_PREFIX,
  originStream,
} from '../events/envelope.ts';
import { eventHash, publicKeyObject } from '../events/signature.ts';
import { type EventStore, positionToString, type RecordedEvent } from '../store/port.ts';
import { checkSigned, type Founders, type Member, type Trust } from './trust.ts';

export type BreakReason =
  | 'unsigned'
  | 'bad-signature'
  | 'broken-chain'
  | 'gap'
  | 'truncated'
  | 'unknown-origin'
  | 'malformed';

/** Where an origin's chain breaks: the first event that does not check. */
export type LogBreak = {
  readonly origin: string;
  readonly seq: string;
  /** The event's id; null when the event is not there (`truncated`). */
  readonly eventId: string | null;
  /** Its position in the store, when read from there. */
  readonly position: string | null;
  readonly reason: BreakReason;
  readonly detail: string;
};

export const describeBreak = (b: LogBreak): string =>
  `${b.origin}:${b.seq}${b.eventId ? ` (event ${b.eventId})` : ''}: ${b.reason}, ${b.detail}`;

/** What a request meets while the node's log is broken (it is not ready, and says where). */
export const logBrokenProblem = (at: LogBreak): AppError =>
  new AppError(
    'LOG_BROKEN',
    `the event log does not check at ${describeBreak(at)}; the node's log says what to do`,
  );

/** Thrown where a log is read to be applied (rebuild, replay): nothing of it is applied. */
export class LogBrokenError extends Error {
  override readonly name = 'LogBrokenError';
  constructor(readonly at: LogBreak) {
    super(`the event log does not check at ${describeBreak(at)}`);
  }
}

type Keys = Member['keys'];

/** Keys an origin signs with, by first seq, latest first, from outside the log walked. */
export type KeySource = (origin: string) => Keys | undefined;

/** The founders' keys (the cluster file): what an auditor starts from. */
export const founderKeys = (founders: Founders): KeySource => {
  const cache = new Map<string, Keys>();
  return (origin) => {
    let keys = cache.get(origin);
    if (!keys) {
      const publicKey = founders(origin);
      if (publicKey === undefined) return undefined;
      keys = [{ fromSeq: 1n, publicKey, key: publicKeyObject(publicKey) }];
      cache.set(origin, keys);
    }
    return keys;
  };
};

/** The keys a node's trust holds (founders, and enrollments and rotations it has applied). */
export const trustKeys =
  (trust: Pick<Trust, 'member'>): KeySource =>
  (origin) =>
    trust.member(origin)?.keys;

export type OriginHead = {
  readonly origin: string;
  /** Events of the origin checked in this walk. */
  readonly events: number;
  readonly seq: string;
  readonly hash: string | null;
  /** The origin's first break, if any: its later events are not checked. */
  readonly broken: LogBreak | null;
};

export type ChainVerifier = {
  /** Checks the next event of an origin stream, in store order: its envelope, or where it breaks.
   * After an origin's first break its later events are passed over (`skipped`). */
  next(r: RecordedEvent): { readonly event: Envelope } | { readonly broken: LogBreak } | 'skipped';
  /** Where an origin's chain stands before the walk reaches it: its last seq and that event's hash
   * (a walk that starts mid-log: a node's catch-up, a tail check). */
  resume(origin: string, seq: bigint, hash: string | undefined): void;
  /** The last seq checked or resumed from of an origin (0 when none). */
  seqOf(origin: string): bigint;
  heads(): OriginHead[];
  readonly breaks: readonly LogBreak[];
};

type Head = { seq: bigint; hash: string | undefined; events: number; broken: LogBreak | null };

const compareDesc = (a: { fromSeq: bigint }, b: { fromSeq: bigint }) =>
  a.fromSeq > b.fromSeq ? -1 : a.fromSeq < b.fromSeq ? 1 : 0;

export const createChainVerifier = (source: KeySource): ChainVerifier => {
  const heads = new Map<string, Head>();
  const breaks: LogBreak[] = [];
  // Keys learned from the walk: enrollments of origins the source does not know, and rotations.
  const enrolled = new Map<string, { hlc: string; publicKey: string }>();
  const rotations = new Map<string, { fromSeq: bigint; publicKey: string }[]>();
  const keyCache = new Map<string, Keys | undefined>();

  const keysOf = (origin: string): Keys | undefined => {
    if (keyCache.has(origin)) return keyCache.get(origin);
    const base = source(origin);
    const first = enrolled.get(origin);
    const learned = [
      ...(rotations.get(origin) ?? []),
      ...(base === undefined && first ? [{ fromSeq: 1n, publicKey: first.publicKey }] : []),
    ].map((s) => ({ ...s, key: publicKeyObject(s.publicKey) }));
    const keys =
      base === undefined && learned.length === 0
        ? undefined
        : [...learned, ...(base ?? [])].sort(compareDesc);
    keyCache.set(origin, keys);
    return keys;
  };

  const learn = (e: Envelope) => {
    if (e.type === 'NodeEnrolled') {
      const id = e.data.nodeId;
      const current = enrolled.get(id);
      if (current === undefined || e.hlc < current.hlc) {
        enrolled.set(id, { hlc: e.hlc, publicKey: e.data.publicKey });
        keyCache.delete(id);
      }
    } else if (e.type === 'NodeKeyRotated') {
      const list = rotations.get(e.origin) ?? [];
      list.push({ fromSeq: e.seq + 1n, publicKey: e.data.publicKey });
      rotations.set(e.origin, list);
      keyCache.delete(e.origin);
    }
  };

  const headOf = (origin: string): Head => {
    let h = heads.get(origin);
    if (!h) {
      h = { seq: 0n, hash: undefined, events: 0, broken: null };
      heads.set(origin, h);
    }
    return h;
  };

  return {
    next(r) {
      const streamOrigin = r.stream.startsWith(ORIGIN_STREAM_PREFIX)
        ? r.stream.slice(ORIGIN_STREAM_PREFIX.length)
        : r.stream;
      const head = headOf(streamOrigin);
      if (head.broken) return 'skipped';
      const fail = (seq: string, eventId: string, reason: LogBreak['reason'], detail: string) => {
        const b: LogBreak = {
          origin: streamOrigin,
          seq,
          eventId,
          position: positionToString(r.position),
          reason,
          detail,
        };
        head.broken = b;
        breaks.push(b);
        return { broken: b };
      };
      const storedSeq = String(r.revision + 1n);
      let e: Envelope;
      try {
        // Reading the stored JSON is where a damaged row shows: whatever fails, it is this event.
        e = fromRecorded(r);
      } catch (err) {
        return fail(storedSeq, r.id, 'malformed', (err as Error).message.slice(0, 300));
      }
      if (r.stream !== originStream(e.origin) || r.revision !== e.seq - 1n)
        return fail(
          storedSeq,
          r.id,
          'malformed',
          `stored as ${r.stream} revision ${r.revision}, but it says ${e.origin}:${e.seq}`,
        );
      if (e.seq !== head.seq + 1n)
        return fail(
          storedSeq,
          r.id,
          'gap',
          head.seq === 0n
            ? `the log holds no ${e.origin}:${e.seq - 1n} before it`
            : `after ${e.origin}:${head.seq} the log holds ${e.origin}:${e.seq}: ${e.seq - head.seq - 1n} missing`,
        );
      const keys = keysOf(e.origin);
      if (keys === undefined)
        return fail(
          storedSeq,
          r.id,
          'unknown-origin',
          `no founder or enrollment before it gives ${e.origin} a key`,
        );
      const verdict = checkSigned({ keys }, r, e, head.hash);
      if ('refused' in verdict) {
        const reason = verdict.refused.reason;
        return fail(
          storedSeq,
          r.id,
          reason === 'unsigned' || reason === 'bad-signature' || reason === 'broken-chain'
            ? reason
            : 'malformed',
          verdict.refused.detail,
        );
      }
      head.seq = e.seq;
      head.hash = verdict.hash;
      head.events += 1;
      learn(e);
      return { event: e };
    },
    resume(origin, seq, hash) {
      const head = headOf(origin);
      head.seq = seq;
      head.hash = hash;
    },
    seqOf: (origin) => heads.get(origin)?.seq ?? 0n,
    heads: () =>
      [...heads.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([origin, h]) => ({
          origin,
          events: h.events,
          seq: String(h.seq),
          hash: h.hash ?? null,
          broken: h.broken,
        })),
    breaks,
  };
};

/** Resumes the chain before `r` (an event of an origin stream): at the hash of the stored event
 * before it; or the break: `r` when that event is missing, that event when it is unreadable.
 * For a walk that starts mid-log. */
export const resumeBefore = async (
  store: Pick<EventStore, 'readStream'>,
  verifier: ChainVerifier,
  r: RecordedEvent,
): Promise<LogBreak | undefined> => {
  const origin = r.stream.slice(ORIGIN_STREAM_PREFIX.length);
  const seq = r.revision + 1n;
  if (seq <= 1n) return undefined;
  const [prev] = await store.readStream(originStream(origin), {
    fromRevision: seq - 2n,
    maxCount: 1,
  });
  if (!prev || prev.revision !== seq - 2n)
    return {
      origin,
      seq: String(seq),
      eventId: r.id,
      position: positionToString(r.position),
      reason: 'gap',
      detail: `the log holds no ${origin}:${seq - 1n} before it`,
    };
  try {
    verifier.resume(origin, seq - 1n, eventHash(prev));
  } catch (err) {
    return {
      origin,
      seq: String(seq - 1n),
      eventId: prev.id,
      position: positionToString(prev.position),
      reason: 'malformed',
      detail: (err as Error).message.slice(0, 300),
    };
  }
  return undefined;
};

/**
 * Checks the tail of each origin's stream: its last `depth` events, their signatures and links
 * (the oldest one's link to its predecessor is taken as it claims), and that the log still holds
 * everything the read model has applied (`applied`): a log cut short at its end breaks no link.
 * An origin the keys do not know is passed over (the read model is being rebuilt; the catch-up
 * checks those events as it applies them).
 */
export const checkTail = async (options: {
  store: Pick<EventStore, 'readStream' | 'streamRevision'>;
  keys: KeySource;
  origins: Iterable<string>;
  applied: (origin: string) => bigint;
  depth: number;
}): Promise<LogBreak | undefined> => {
  for (const origin of new Set(options.origins)) {
    if (options.keys(origin) === undefined) continue;
    const stream = originStream(origin);
    const revision = await options.store.streamRevision(stream);
    const stored = revision === undefined ? 0n : revision + 1n;
    const applied = options.applied(origin);
    if (applied > stored)
      return {
        origin,
        seq: String(stored + 1n),
        eventId: null,
        position: null,
        reason: 'truncated',
        detail: `the read model has applied ${origin}:${applied} but the log ends at ${origin}:${stored}`,
      };
    if (stored === 0n) continue;
    const tail = (
      await options.store.readStream(stream, {
        direction: 'backwards',
        maxCount: options.depth,
      })
    ).reverse();
    const verifier = createChainVerifier(options.keys);
    const first = tail[0];
    if (first && first.revision > 0n) {
      let prev: unknown;
      try {
        prev = first.metadata.prev;
      } catch {
        // Unreadable: the verifier names it below.
      }
      verifier.resume(origin, first.revision, typeof prev === 'string' ? prev : undefined);
    }
    for (const r of tail) {
      const v = verifier.next(r);
      if (typeof v === 'object' && 'broken' in v) return v.broken;
    }
    if (verifier.seqOf(origin) !== stored)
      return {
        origin,
        seq: String(verifier.seqOf(origin) + 1n),
        eventId: null,
        position: null,
        reason: 'gap',
        detail: `the stream's last revision says ${stored} events, its tail ends at ${verifier.seqOf(origin)}`,
      };
  }
  return undefined;
};

export type LogVerdict = {
  readonly events: number;
  readonly heads: readonly OriginHead[];
  readonly breaks: readonly LogBreak[];
  readonly ms: number;
};

/** Walks the whole log in store order from its first event and checks every origin's chain
 * (`authlog verify --log`): for an auditor, nothing altered and nothing removed. Every origin's
 * first break is reported; the walk goes on for the others. */
export const verifyLog = async (options: {
  store: Pick<EventStore, 'readAll' | 'headPosition'>;
  founders: Founders;
  batchSize?: number;
  onProgress?: (p: { events: number; fraction: number }) => void;
}): Promise<LogVerdict> => {
  const started = performance.now();
  const verifier = createChainVerifier(founderKeys(options.founders));
  const head = await options.store.headPosition();
  const total = head ? Number(head.commit) : 0;
  let after: RecordedEvent['position'] | undefined;
  let events = 0;
  for (;;) {
    const page = await options.store.readAll({
      streamPrefix: ORIGIN_STREAM_PREFIX,
      maxCount: options.batchSize ?? 5000,
      ...(after ? { after } : {}),
    });
    if (page.length === 0) break;
    for (const r of page) verifier.next(r);
    events += page.length;
    after = page.at(-1)!.position;
    options.onProgress?.({
      events,
      fraction: total > 0 ? Math.min(1, Number(after.commit) / total) : 1,
    });
    if (head && after.commit >= head.commit && after.prepare >= head.prepare) break;
  }
  return {
    events,
    heads: verifier.heads(),
    breaks: verifier.breaks,
    ms: performance.now() - started,
  };
};
