// Maps what the EventStoreDB client throws onto the port's errors, so no client error type leaks
// past the adapter. Wrong expected versions are handled where the append knows what it sent
// (append.ts); this module decides what is an outage (retriable with the same event ids) and
// what is a real failure. A full disk has no error of its own here (no StoreFullError): the
// server stops when its chunk or index writes fail with ENOSPC (kurrent-io/KurrentDB#2849,
// #3452), so a client sees it unreachable, a StoreUnavailableError.
import { ErrorType, isCommandError } from '@eventstore/db-client';
import { ConcurrencyError, IdempotencyError, StoreUnavailableError } from '../errors.ts';

// gRPC status codes that mean "the server did not (or not yet) answer", whatever happened to
// the request: CANCELLED (1), DEADLINE_EXCEEDED (4), ABORTED (10), UNAVAILABLE (14).
const RETRIABLE_GRPC_CODES = new Set([1, 4, 10, 14]);

const RETRIABLE_TYPES = new Set<string>([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.CANCELLED,
  ErrorType.NOT_LEADER,
]);

// A batch append the server could not take (not ready, too busy) comes back as an error status
// the client does not recognise; its message is all there is to go on.
const NOT_HANDLED = /Server Is (Not Ready|Busy)|No leader info/;

const hasCode = (error: object): error is { code: unknown } => 'code' in error;

/** True when the error says the store could not be reached or did not confirm in time. */
export const isTransient = (error: unknown): boolean => {
  if (error instanceof StoreUnavailableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  if (error instanceof Error && isCommandError(error)) {
    if (RETRIABLE_TYPES.has(error.type)) return true;
    return error.type === ErrorType.UNKNOWN && NOT_HANDLED.test(error.message);
  }
  // Raw gRPC errors reach us where the client does not convert them (fetching server features).
  return hasCode(error) && typeof error.code === 'number' && RETRIABLE_GRPC_CODES.has(error.code);
};

const describe = (error: unknown): string =>
  error instanceof Error ? error.message || error.name : String(error);

/** The port's view of a client error: StoreUnavailableError for outages, otherwise an Error that
 * names the operation and keeps the original as its cause. */
export const toStoreError = (error: unknown, operation: string): Error => {
  if (
    error instanceof StoreUnavailableError ||
    error instanceof ConcurrencyError ||
    error instanceof IdempotencyError
  )
    return error;
  if (isTransient(error)) {
    return new StoreUnavailableError(
      `EventStoreDB did not answer ${operation}: ${describe(error)}`,
      {
        cause: error,
      },
    );
  }
  if (error instanceof TypeError || error instanceof RangeError) return error;
  return new Error(`EventStoreDB refused ${operation}: ${describe(error)}`, { cause: error });
};
