// Requests Node's HTTP parser refuses before fastify sees them (headers over 16 KiB, malformed
// request lines, slow senders) still get the one error format, on the raw socket.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { AppError } from '../errors.ts';
import { API_CSP } from './headers.ts';
import { toProblem } from './problem.ts';

export const clientErrorHandler =
  (log: () => FastifyBaseLogger | undefined) =>
  (err: Error & { code?: string }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const error =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? new AppError('HEADERS_TOO_LARGE', 'the request headers exceed 16 KiB')
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new AppError('REQUEST_TIMEOUT')
          : new AppError('VALIDATION_FAILED', 'malformed HTTP request');
    log()?.debug({ code: err.code }, 'client error');
    if (socket.writable) {
      const body = JSON.stringify(toProblem(error));
      socket.write(
        `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
          'Content-Type: application/problem+json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          `Content-Security-Policy: ${API_CSP}\r\n` +
          'X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n' +
          body,
      );
    }
    socket.destroy(err);
  };
