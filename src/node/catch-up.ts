// Feeds the read model from the store: a catch-up subscription over the origin streams, from
// the read model's checkpoint, handed to the writer queue in batches. Own events come back this
// way too and are skipped as already applied; events appended by the replication puller (or by
// another node sharing the store) are applied here.
//
// Until it has caught up, every event it applies is checked first (chain.ts): signed by its origin,
// chained to the one before. The first that does not check stops it there, named (`onBreak`):
// what came before is applied, nothing after, and the node never says it caught up. Later events
// need no second check: they enter through ingest, which checks them, or this node's writer.
import type { Logger } from 'pino';
import { seqOf, type VersionVector } from '../clock/version-vector.ts';
import { type Envelope, fromRecorded, ORIGIN_STREAM_PREFIX } from '../events/envelope.ts';
import {
  type EventStore,
  positionFromString,
  positionToString,
  type RecordedEvent,
} from '../store/port.ts';
import { createChainVerifier, type KeySource, type LogBreak, resumeBefore } from './chain.ts';
import type { Writer } from './writer.ts';

export const STORE_CHECKPOINT = 'store';
const BATCH = 1000;

export type CatchUp = {
  /** Resolves when everything stored at start has been offered to the read model. */
  readonly caughtUp: Promise<void>;
  stop(): Promise<void>;
};

export const startCatchUp = (options: {
  store: EventStore;
  writer: Writer;
  checkpoint: string | undefined;
  /** The read model's applied version vector (live view). */
  applied: VersionVector;
  log: Logger;
  /** Checks what it applies until caught up; a broken chain stops it (chain.ts). */
  verify?: { keys: KeySource; onBreak: (at: LogBreak) => void };
}): CatchUp => {
  const { store, writer, log, applied } = options;
  const verifier = options.verify && createChainVerifier(options.verify.keys);
  let verifying = verifier !== undefined;
  let halted = false;
  // An origin stream holds its origin's events at revision seq - 1 (the writer and ingest append
  // with exactly that expected revision), so the stream and revision say whether an event is
  // applied without parsing its metadata: most events this loop sees are the node's own.
  const alreadyApplied = (r: RecordedEvent): boolean =>
    r.stream.startsWith(ORIGIN_STREAM_PREFIX) &&
    r.revision + 1n <= seqOf(applied, r.stream.slice(ORIGIN_STREAM_PREFIX.length));
  const sub = store.subscribe({
    streamPrefix: ORIGIN_STREAM_PREFIX,
    ...(options.checkpoint ? { after: positionFromString(options.checkpoint) } : {}),
  });
  let pending: RecordedEvent[] = [];
  let scheduled = false;
  let markCaughtUp!: () => void;
  let failCaughtUp!: (e: unknown) => void;
  const caughtUp = new Promise<void>((resolve, reject) => {
    markCaughtUp = resolve;
    failCaughtUp = reject;
  });

  const flush = async () => {
    scheduled = false;
    if (pending.length === 0 || halted) return;
    const batch = pending;
    pending = [];
    const envelopes: Envelope[] = [];
    for (const r of batch) {
      // This node's own events and what a puller projected first come back here: skip them
      // without parsing them. The projector would skip them by the same test (seq not above the
      // applied one), and `applied` only grows until they reach it.
      if (alreadyApplied(r)) continue;
      if (verifier && verifying) {
        const origin = r.stream.slice(ORIGIN_STREAM_PREFIX.length);
        const seq = r.revision + 1n;
        // The walk starts at the checkpoint: an origin's chain resumes at its stored predecessor.
        const before =
          verifier.seqOf(origin) === seq - 1n ? undefined : await resumeBefore(store, verifier, r);
        const v = before ? { broken: before } : verifier.next(r);
        if (typeof v === 'object' && 'broken' in v) {
          halted = true;
          await writer.apply(envelopes);
          options.verify?.onBreak(v.broken);
          return;
        }
        if (v !== 'skipped') envelopes.push(v.event);
        continue;
      }
      try {
        envelopes.push(fromRecorded(r));
      } catch (err) {
        // A malformed stored event can never become valid: report it and leave it out. Its
        // origin's later events then wait in the causal buffer, visible in status.
        log.error(
          { err, eventId: r.id, stream: r.stream },
          'malformed event in store; not applied',
        );
      }
    }
    await writer.apply(envelopes, {
      name: STORE_CHECKPOINT,
      position: positionToString(batch.at(-1)!.position),
    });
  };

  const loop = (async () => {
    for await (const item of sub) {
      if (halted) break;
      if (item.kind === 'caughtUp') {
        await flush();
        if (halted) break;
        verifying = false;
        markCaughtUp();
        continue;
      }
      pending.push(item.event);
      if (pending.length >= BATCH) await flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(
          () => void flush().catch((err) => log.error({ err }, 'applying events failed')),
        );
      }
    }
    if (!halted) await flush();
  })().catch((err) => {
    log.error({ err }, 'catch-up subscription failed');
    failCaughtUp(err);
  });

  return {
    caughtUp,
    async stop() {
      await sub.stop();
      await loop;
    },
  };
};
