import type { ExpectedRevision } from './port.ts';

/** The expected revision did not hold: someone else appended to the stream first. */
export class ConcurrencyError extends Error {
  override readonly name = 'ConcurrencyError';
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** The stream's actual last revision, or undefined when it does not exist. */
    readonly actual: bigint | undefined,
  ) {
    super(
      `stream ${stream}: expected revision ${String(expected)}, actual ${actual === undefined ? 'no stream' : String(actual)}`,
    );
  }
}

/** An append reused event ids that are already stored, but not as the exact same append. */
export class IdempotencyError extends Error {
  override readonly name = 'IdempotencyError';
  constructor(
    readonly stream: string,
    readonly eventId: string,
  ) {
    super(
      `stream ${stream}: event ${eventId} is already stored elsewhere or with other neighbours`,
    );
  }
}

/** The store cannot be reached right now; the operation may be retried with the same ids. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The disk (or the quota) holding the store is full: nothing of the operation was written.
 * The same operation succeeds once space is freed; nothing needs restarting. */
export class StoreFullError extends Error {
  override readonly name = 'StoreFullError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
