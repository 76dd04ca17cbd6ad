// The catch-up subscription over `$all`. It reads history page by page until it reaches the end
// (then says `caughtUp`), and follows live events through a server-side filtered subscription
// that starts after the last position it has seen. A subscription that errors or simply ends
// (server restart, leader change, network) is a drop, not the end: it waits, reads from its last
// position again and resubscribes. Events at or before that position are skipped, so nothing is
// delivered twice and, because every resubscription starts where the last one left off, nothing
// is missed.
import {
  comparePositions,
  type Position,
  type RecordedEvent,
  type Subscription,
  type SubscriptionItem,
} from '../port.ts';
import { isTransient } from './errors.ts';
import type { ScanPage } from './read-all.ts';

/** An item of a live feed: every event the server sent, with the port's event when it is one. */
export type LiveItem = { readonly position: Position; readonly event: RecordedEvent | undefined };

export type LiveFeed = AsyncIterable<LiveItem> & { close(): Promise<void> };

export type SubscriptionSource = {
  /** Matching events strictly after `after`, one page. */
  readPage(after: Position | undefined): Promise<ScanPage>;
  /** Live (and catch-up) events strictly after `after`. */
  openLive(after: Position | undefined): LiveFeed;
};

export type ReconnectPolicy = {
  /** First wait after a drop; doubles per consecutive failure up to `maxDelayMs`. */
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Told about every drop before the wait (for logs and metrics). */
  readonly onDrop?: (error: unknown, attempt: number, delayMs: number) => void;
};

/** The server ended a subscription nobody asked to end. */
export class SubscriptionDroppedError extends Error {
  override readonly name = 'SubscriptionDroppedError';
}

const isDrop = (error: unknown): boolean =>
  error instanceof SubscriptionDroppedError ||
  isTransient(error) ||
  // A feed whose underlying stream was torn down mid-iteration.
  (error instanceof Error && 'code' in error && error.code === 'ERR_STREAM_PREMATURE_CLOSE');

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

const after = (position: Position, bound: Position | undefined): boolean =>
  bound === undefined || comparePositions(position, bound) > 0;

export const openEsdbSubscription = (
  source: SubscriptionSource,
  start: Position | undefined,
  policy: ReconnectPolicy,
  onStop?: () => void,
): Subscription => {
  let stopped = false;
  let live: LiveFeed | undefined;
  let signalStop!: () => void;
  const stopSignal = new Promise<void>((resolve) => {
    signalStop = resolve;
  });

  const pause = (ms: number) =>
    Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), stopSignal]);

  async function* run(): AsyncGenerator<SubscriptionItem, void, undefined> {
    let cursor = start; // everything up to here was delivered or is not ours to deliver
    let lastDelivered = start;
    let caughtUp = false;
    let failures = 0;
    while (!stopped) {
      try {
        for (;;) {
          const page = await source.readPage(cursor);
          if (stopped) return;
          failures = 0;
          for (const event of page.events) {
            if (!after(event.position, cursor)) continue;
            cursor = lastDelivered = event.position;
            yield { kind: 'event', event };
            if (stopped) return;
          }
          if (page.scannedTo !== undefined && after(page.scannedTo, cursor))
            cursor = page.scannedTo;
          if (page.end) break;
        }
        if (!caughtUp) {
          caughtUp = true;
          yield { kind: 'caughtUp', position: lastDelivered };
          if (stopped) return;
        }
        const feed = source.openLive(cursor);
        live = feed;
        try {
          for await (const item of feed) {
            if (stopped) return;
            failures = 0;
            if (!after(item.position, cursor)) continue;
            cursor = item.position;
            if (item.event === undefined) continue;
            lastDelivered = item.position;
            yield { kind: 'event', event: item.event };
            if (stopped) return;
          }
        } finally {
          live = undefined;
          await feed.close();
        }
        if (stopped) return;
        throw new SubscriptionDroppedError('EventStoreDB ended the subscription');
      } catch (error) {
        if (stopped) return;
        if (!isDrop(error)) throw error;
        const delay = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.min(failures, 16));
        failures += 1;
        policy.onDrop?.(error, failures, delay);
        await pause(delay);
      }
    }
  }

  const generator = run();
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    signalStop();
    onStop?.();
    void live?.close();
    // Runs the generator's cleanup once its current step (if any) has seen `stopped`.
    generator.return(undefined).catch(() => undefined);
  };

  const pull = async (): Promise<IteratorResult<SubscriptionItem, undefined>> => {
    if (stopped) return DONE;
    const result = await Promise.race([generator.next(), stopSignal.then(() => DONE)]);
    if (stopped || result.done) {
      stop();
      return DONE;
    }
    return result;
  };

  // Calls to next() are served one after another, in order, even when not awaited.
  let queue: Promise<unknown> = Promise.resolve();
  const next = () => {
    const result = queue.then(pull).catch((error: unknown) => {
      stop();
      throw error;
    });
    queue = result.catch(() => undefined);
    return result;
  };

  const iterator: AsyncIterator<SubscriptionItem, undefined> = {
    next,
    return: async () => {
      stop();
      return DONE;
    },
  };
  return {
    [Symbol.asyncIterator]: () => iterator,
    stop: async () => stop(),
  };
};
