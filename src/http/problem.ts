// The one error format (RFC 9457 problem+json) and the one place errors become responses.
// A 5xx says nothing internal: its detail is generic and carries the request id under which the
// real error was logged.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode, errorCatalogue } from '../errors.ts';
import { fallbackHeaders } from './headers.ts';

export type Problem = {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  requestId?: string;
  [extension: string]: string | number | boolean | null | undefined;
};

export const problemType = (code: ErrorCode): string =>
  `urn:authlog:problem:${code.toLowerCase().replaceAll('_', '-')}`;

export const toProblem = (err: AppError, requestId?: string): Problem => ({
  ...err.extensions,
  type: problemType(err.code),
  title: errorCatalogue[err.code].title,
  status: err.status,
  code: err.code,
  ...(err.detail ? { detail: err.detail } : {}),
  ...(requestId ? { requestId } : {}),
});

const byStatus: Partial<Record<number, ErrorCode>> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

/** Maps anything thrown in a request to an AppError; unknown failures become INTERNAL. */
export const asAppError = (err: unknown): AppError => {
  if (err instanceof AppError) return err;
  const e = err as Partial<FastifyError>;
  if (e.validation) {
    const first = e.validation[0];
    const where = e.validationContext ?? 'request';
    const path = first?.instancePath ? `${where}${first.instancePath.replaceAll('/', '.')}` : where;
    const extra =
      first?.params && 'additionalProperty' in first.params
        ? ` (${String(first.params.additionalProperty)})`
        : '';
    return new AppError('VALIDATION_FAILED', `${path}: ${first?.message ?? 'invalid'}${extra}`, {
      field: path,
    });
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = byStatus[e.statusCode] ?? 'VALIDATION_FAILED';
    // Fastify's own client-error messages (bad JSON, wrong content type) are safe to show.
    return new AppError(code, typeof e.message === 'string' ? e.message.slice(0, 300) : undefined);
  }
  return new AppError('INTERNAL');
};

export const sendProblem = (request: FastifyRequest, reply: FastifyReply, err: unknown) => {
  const app = asAppError(err);
  if (app.status >= 500) {
    if (app.code === 'INTERNAL') request.log.error({ err }, 'request failed');
    else request.log.warn({ code: app.code }, 'request refused: node unavailable');
  }
  const problem = toProblem(app, request.id);
  problem.instance = request.url.split('?')[0]?.slice(0, 512);
  if (app.code === 'UNAUTHENTICATED') reply.header('www-authenticate', 'Bearer realm="authlog"');
  if (app.status === 503) reply.header('retry-after', '1');
  if (app.status === 429 && !reply.hasHeader('retry-after')) {
    // A refusal thrown where no reply was at hand (Basic, during authentication) says its wait.
    const wait = app.extensions?.retryAfterSeconds;
    reply.header('retry-after', typeof wait === 'number' ? String(wait) : '60');
  }
  fallbackHeaders(reply);
  return reply.status(app.status).type('application/problem+json').send(problem);
};
