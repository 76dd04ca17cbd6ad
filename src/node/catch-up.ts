// Feeds the read model from the store: a catch-up subscription over the origin streams, from
// the read model's checkpoint, handed to the writer queue in batches. Own events come back this
// way too and are skipped as already applied; events appended by the replication puller (or by
// another node sharing the store) are applied here.
import type { Logger } from 'pino';
import { seqOf, type VersionVector } from '../clock/version-vector.ts';
import { type Envelope, fromRecorded, ORIGIN_STREAM_PREFIX } from '../events/envelope.ts';
import {
  type EventStore,
  positionFromString,
  positionToString,
  type RecordedEvent,
} from '../store/port.ts';
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
}): CatchUp => {
  const { store, writer, log, applied } = options;
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
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const envelopes: Envelope[] = [];
    for (const r of batch) {
      // This node's own events and what a puller projected first come back here: skip them
      // without parsing them. The projector would skip them by the same test (seq not above the
      // applied one), and `applied` only grows until they reach it.
      if (alreadyApplied(r)) continue;
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
      if (item.kind === 'caughtUp') {
        await flush();
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
    await flush();
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
