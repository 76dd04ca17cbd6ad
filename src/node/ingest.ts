// Appends events of other origins to their origin streams in this node's store, each with the
// exact expected revision its seq implies (seq n is revision n - 1). Events the store already
// holds are acknowledged without writing: the store rejects a second copy at that revision, so
// duplicate deliveries and several pullers sharing a store are harmless. The node offers this to
// pullers as its `Ingest` port (ports.ts): they never hold the store.
import { type Envelope, originStream, toEventData } from '../events/envelope.ts';
import { ConcurrencyError, IdempotencyError } from '../store/errors.ts';
import type { EventStore } from '../store/port.ts';
import type { IngestResult } from './ports.ts';

/** `events` must be in causal order per origin (a feed's order is). Gaps are refused. */
export const ingest = async (
  store: Pick<EventStore, 'streamRevision' | 'append'>,
  events: readonly Envelope[],
): Promise<IngestResult> => {
  let appended = 0;
  let present = 0;
  // Runs of consecutive events of one origin go in one append.
  let i = 0;
  while (i < events.length) {
    const first = events[i]!;
    let j = i + 1;
    while (
      j < events.length &&
      events[j]!.origin === first.origin &&
      events[j]!.seq === events[j - 1]!.seq + 1n
    )
      j++;
    const run = events.slice(i, j);
    i = j;
    const stream = originStream(first.origin);
    // Someone else (another puller, another node on the same store) may append part of the run
    // concurrently: on a concurrency error, look again at what the stream holds and go on.
    for (let attempt = 0; ; attempt++) {
      const head = await store.streamRevision(stream);
      const stored = head === undefined ? 0n : head + 1n; // events the stream holds
      const fresh = run.filter((e) => e.seq > stored);
      if (fresh.length === 0) {
        present += run.length;
        break;
      }
      if (fresh[0]!.seq !== stored + 1n) {
        throw new RangeError(`gap in ${stream}: have ${stored}, got seq ${fresh[0]!.seq}`);
      }
      try {
        await store.append(stream, fresh.map(toEventData), {
          expectedRevision: stored === 0n ? 'no_stream' : stored - 1n,
        });
        appended += fresh.length;
        present += run.length - fresh.length;
        break;
      } catch (err) {
        // A racing puller stored some of these first: the store says so as a concurrency error
        // (it moved on) or an idempotency error (our batch starts with what it stored). Either
        // way, look again at what the stream holds and append the rest.
        if (!(err instanceof ConcurrencyError || err instanceof IdempotencyError) || attempt >= 5)
          throw err;
      }
    }
  }
  return { appended, present };
};
