// Converts what the client reads into the port's RecordedEvent. The port holds only what authlog
// could have written: JSON data and metadata objects, in streams outside EventStoreDB's own `$`
// namespace. Anything else in `$all` (system events, links, binary events of other programs) is
// "foreign": reads of the global log leave it out; a stream read that meets it fails loudly.
import type {
  Position as ClientPosition,
  RecordedEvent as ClientRecordedEvent,
} from '@eventstore/db-client';
import type { JsonObject, Position, RecordedEvent } from '../port.ts';
import { uuidToUlid } from './ids.ts';

/** What the server sends for "no position" (-1 as an unsigned 64-bit number). Stream reads on
 * EventStoreDB before 22.10 carry it instead of the event's `$all` position. */
const NO_POSITION = 18446744073709551615n;

export type Conversion =
  | { readonly event: RecordedEvent; readonly foreign?: undefined }
  | { readonly event?: undefined; readonly foreign: string };

const isJsonObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  !(value instanceof Uint8Array);

export const isSystemStream = (stream: string): boolean => stream.startsWith('$');

export const toPosition = (position: ClientPosition | undefined): Position | undefined =>
  position === undefined || position.commit >= NO_POSITION || position.prepare >= NO_POSITION
    ? undefined
    : { commit: position.commit, prepare: position.prepare };

export const convert = (event: ClientRecordedEvent | undefined): Conversion => {
  if (event === undefined) return { foreign: 'a link to a deleted event' };
  if (isSystemStream(event.streamId)) return { foreign: 'a system stream' };
  if (event.type.startsWith('$')) return { foreign: `system event type ${event.type}` };
  if (!event.isJson) return { foreign: 'binary content' };
  const { data, metadata } = event;
  if (!isJsonObject(data)) return { foreign: 'data that is not a JSON object' };
  if (!isJsonObject(metadata)) return { foreign: 'metadata that is not a JSON object' };
  const position = toPosition(event.position);
  if (position === undefined) {
    return { foreign: 'no $all position (stream reads need EventStoreDB 22.10 or later)' };
  }
  return {
    event: {
      id: uuidToUlid(event.id),
      type: event.type,
      data,
      metadata,
      stream: event.streamId,
      revision: event.revision,
      position,
    },
  };
};

/**
 * Runs `each` over a read to its end. A read left half-way (a throw in `each`) is cancelled:
 * otherwise its gRPC call stays open and the client's dispose() waits for it forever.
 */
export const consume = async <T>(
  reader: AsyncIterable<T> & { cancel(): Promise<void> },
  each: (item: T) => void,
): Promise<void> => {
  let complete = false;
  try {
    for await (const item of reader) each(item);
    complete = true;
  } finally {
    if (!complete) await reader.cancel().catch(() => undefined);
  }
};
