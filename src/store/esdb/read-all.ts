// Reads of the global log. The client (6.x) has no filtered `$all` read, so pages of `$all` are
// read whole and filtered here; live subscriptions filter on the server (subscription.ts). In a
// store that holds authlog's streams, almost every event matches `origin-`, so little is wasted.
import { BACKWARDS, END, type EventStoreDBClient, FORWARDS, START } from '@eventstore/db-client';
import { comparePositions, type Position, type RecordedEvent } from '../port.ts';
import { toStoreError } from './errors.ts';
import { consume, convert, toPosition } from './records.ts';

/** Events per request to the server. */
export const PAGE_SIZE = 500;

export type Direction = 'forwards' | 'backwards';

export type ScanPage = {
  /** Events that are authlog's and match the prefix, in read order. */
  readonly events: RecordedEvent[];
  /** Position of the last event the page looked at, matching or not. */
  readonly scannedTo: Position | undefined;
  /** True when the page reached the end (forwards) or the start (backwards) of the log. */
  readonly end: boolean;
};

export const matchesPrefix = (stream: string, prefix: string | undefined): boolean =>
  prefix === undefined || stream.startsWith(prefix);

/**
 * One page of `$all`, strictly after `from` (forwards) or strictly before it (backwards). The
 * server's own bounds are inclusive forwards, so the event at `from` is skipped here; skipping by
 * position also makes a page boundary on a `commit`/`prepare` pair safe either way.
 */
export const scanPage = async (
  client: EventStoreDBClient,
  direction: Direction,
  from: Position | undefined,
  prefix: string | undefined,
  size = PAGE_SIZE,
): Promise<ScanPage> => {
  const events: RecordedEvent[] = [];
  let scannedTo: Position | undefined;
  let count = 0;
  const fromPosition = from ?? (direction === 'forwards' ? START : END);
  try {
    const reader = client.readAll({
      direction: direction === 'forwards' ? FORWARDS : BACKWARDS,
      fromPosition,
      maxCount: size,
    });
    await consume(reader, (resolved) => {
      count += 1;
      const position = toPosition(resolved.event?.position);
      if (position === undefined) return;
      if (from !== undefined) {
        const order = comparePositions(position, from);
        if (direction === 'forwards' ? order <= 0 : order >= 0) return;
      }
      scannedTo = position;
      const { event } = convert(resolved.event);
      if (event !== undefined && matchesPrefix(event.stream, prefix)) events.push(event);
    });
  } catch (error) {
    throw toStoreError(error, 'a read of $all');
  }
  return { events, scannedTo, end: count < size };
};

/** Up to `maxCount` matching events, paging through `$all` as far as it takes. */
export const readAllMatching = async (
  client: EventStoreDBClient,
  options: {
    readonly direction: Direction;
    readonly from: Position | undefined;
    readonly maxCount: number | undefined;
    readonly prefix: string | undefined;
  },
): Promise<RecordedEvent[]> => {
  const { direction, maxCount = Number.POSITIVE_INFINITY, prefix } = options;
  const found: RecordedEvent[] = [];
  let from = options.from;
  while (found.length < maxCount) {
    const page = await scanPage(client, direction, from, prefix);
    found.push(...page.events.slice(0, maxCount - found.length));
    if (page.end) break;
    if (page.scannedTo === undefined) {
      throw new Error('EventStoreDB returned a full page of $all without positions');
    }
    from = page.scannedTo;
  }
  return found;
};
