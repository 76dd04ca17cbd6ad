// The replication feed: this node's log of origin streams, in store order, which is causal
// (every append is either the writer's own batch, decided on applied state, or an ingest of a
// peer's causal feed run after run). A page is read after an opaque cursor; when nothing is
// there, the request waits (long-poll) until the node commits something or the wait ends.

import { AppError } from '../errors.ts';
import { ORIGIN_STREAM_PREFIX } from '../events/envelope.ts';
import type { AuthlogNode } from '../node/node.ts';
import {
  type EventData,
  type Position,
  positionFromString,
  positionToString,
} from '../store/port.ts';
import { encodeVector } from './version-vector.ts';

export type FeedPage = {
  readonly events: readonly EventData[];
  /** Cursor for the next request: after the last event of this page (or the same as sent). */
  readonly next: string;
  /** What the serving node has applied: lets the puller compute its lag in events. */
  readonly vector: Record<string, string>;
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
  node: AuthlogNode,
  options: { after?: string; limit: number; waitMs: number },
): Promise<FeedPage> => {
  const after = options.after ? decodeCursor(options.after) : undefined;
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    const events = await node.store.readAll({
      streamPrefix: ORIGIN_STREAM_PREFIX,
      maxCount: options.limit,
      ...(after ? { after } : {}),
    });
    const remaining = deadline - Date.now();
    if (events.length > 0 || remaining <= 0) {
      const last = events.at(-1)?.position;
      return {
        events: events.map(({ id, type, data, metadata }) => ({ id, type, data, metadata })),
        next: last ? encodeCursor(last) : (options.after ?? ''),
        vector: encodeVector(node.projector.applied),
      };
    }
    await node.nextCommit(remaining);
  }
};
