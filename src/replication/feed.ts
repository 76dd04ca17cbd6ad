// The replication feed: this node's log of origin streams, in store order, which is causal
// (every append is either the writer's own batch, decided on applied state, or an ingest of a
// peer's causal feed run after run). A page is read after an opaque cursor; when nothing is
// there, the request waits (long-poll) until the node commits something or the wait ends.

import { encodeVector } from '../clock/version-vector.ts';
import { AppError } from '../errors.ts';
import type { FeedSource } from '../node/ports.ts';
import {
  type Position,
  positionFromString,
  positionToString,
  type RecordedEvent,
  storedJson,
} from '../store/port.ts';

/** One page of the feed as JSON text: `{ events, next, vector }`, where `events` are
 * `{ id, type, data, metadata }`, `next` is the cursor for the next request (after the last
 * event of this page, or the same as sent), and `vector` is what the serving node has applied
 * (the puller computes its lag from it). The route's response schema documents the shape. */
export type FeedPage = string;

const quote = JSON.stringify;

// Events go out as the store holds them: the embedded store's columns are JSON.stringify of
// checked JSON objects, so its text is spliced in without parsing and re-serializing it.
const eventJson = (e: RecordedEvent): string => {
  const text = storedJson(e);
  const data = text?.data ?? quote(e.data);
  const metadata = text?.metadata ?? quote(e.metadata);
  return `{"id":${quote(e.id)},"type":${quote(e.type)},"data":${data},"metadata":${metadata}}`;
};

export const encodeCursor = (p: Position): string =>
  Buffer.from(positionToString(p)).toString('base64url');

export const decodeCursor = (cursor: string): Position => {
  try {
    return positionFromString(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('VALIDATION_FAILED', 'after: not a cursor this node gave out', {
      field: 'after',
    });
  }
};

export const readFeed = async (
  source: FeedSource,
  options: { after?: string; limit: number; waitMs: number },
): Promise<FeedPage> => {
  const after = options.after ? decodeCursor(options.after) : undefined;
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    const events = await source.readLog({ after, maxCount: options.limit });
    const remaining = deadline - Date.now();
    if (events.length > 0 || remaining <= 0) {
      const last = events.at(-1)?.position;
      const next = last ? encodeCursor(last) : (options.after ?? '');
      const vector = encodeVector(source.appliedVector());
      return `{"events":[${events.map(eventJson).join(',')}],"next":${quote(next)},"vector":${quote(vector)}}`;
    }
    await source.nextCommit(remaining);
  }
};
