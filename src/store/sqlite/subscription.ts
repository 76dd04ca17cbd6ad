import type { Position, RecordedEvent, Subscription, SubscriptionItem } from '../port.ts';

/** One page of the log as a subscription sees it: the matching events, and how far the log
 * was scanned (past non-matching events too, so a filtered subscription does not rescan them). */
export type Page = { readonly events: RecordedEvent[]; readonly scannedTo: bigint };

/** How the store lets a subscription see new events. */
export type LiveHandle = { notify(): void; stop(): void };

export type SubscriptionSource = {
  readPage(scanAfter: bigint): Page;
  /** Keeps the handle informed of local appends until the returned function is called. */
  register(handle: LiveHandle): () => void;
  /** Other processes' appends are only seen by polling. */
  readonly pollIntervalMs: number;
};

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

const yielded = (value: SubscriptionItem): IteratorYieldResult<SubscriptionItem> => ({
  done: false,
  value,
});

/**
 * A catch-up subscription. It reads one page only when the previous one has been consumed, so
 * a slow consumer holds back reading (backpressure). Its timer runs only while a `next()` is
 * waiting for news, so nothing is left running once the consumer stops asking.
 */
export const openSubscription = (
  source: SubscriptionSource,
  after: Position | undefined,
): Subscription => {
  let scanAfter = after?.commit ?? 0n;
  let lastDelivered = after;
  let page: RecordedEvent[] = [];
  let index = 0;
  let caughtUp = false;
  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    unregister();
    wake?.();
  };
  const unregister = source.register({ notify: () => wake?.(), stop });

  // Resolves on the next local append, the next poll tick, or stop().
  const news = () =>
    new Promise<void>((resolve) => {
      wake = () => {
        wake = undefined;
        clearTimeout(timer);
        timer = undefined;
        resolve();
      };
      timer = setTimeout(wake, source.pollIntervalMs);
    });

  const pull = async (): Promise<IteratorResult<SubscriptionItem, undefined>> => {
    for (;;) {
      if (stopped) return DONE;
      const event = page[index];
      if (event !== undefined) {
        index += 1;
        lastDelivered = event.position;
        return yielded({ kind: 'event', event });
      }
      const next = source.readPage(scanAfter);
      scanAfter = next.scannedTo;
      page = next.events;
      index = 0;
      if (page.length > 0) continue;
      if (!caughtUp) {
        caughtUp = true;
        return yielded({ kind: 'caughtUp', position: lastDelivered });
      }
      await news();
    }
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
    // Called by `for await` when the loop body breaks or throws.
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
