// Structured logs (pino, one JSON object a line, each request line carrying its `reqId`). Secrets
// never reach the log (OWASP ASVS 7.1.1): requests are logged by a serializer that names what it
// keeps (no headers, query values of secret-looking parameters replaced), and redaction catches
// secret-named fields in anything else a log line includes. User input is only ever a JSON string
// value, which escapes CR, LF and every control character: no forged lines (ASVS 7.3.1).
import {
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { clientIp } from './proxy.ts';

const SECRET_PARAM = /pass|secret|token|key|code|otp|session|auth|signature|sig$/i;

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.secret',
  '*.otp',
  '*.code',
  '*.cookie',
  '*.authorization',
];

/** The path with the values of secret-looking query parameters replaced. */
export const safeUrl = (url: string): string => {
  const q = url.indexOf('?');
  if (q < 0) return url.slice(0, 2048);
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return eq >= 0 && SECRET_PARAM.test(decoded) ? `${name}=[Redacted]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`.slice(0, 2048);
};

const requestSerializer = (request: FastifyRequest) => ({
  method: request.method,
  url: safeUrl(request.url),
  remoteAddress: clientIp(request),
  userAgent: request.headers['user-agent']?.slice(0, 256),
});

export const loggerOptions = (level: string): LoggerOptions => ({
  level,
  redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
  serializers: {
    req: requestSerializer as (req: unknown) => unknown,
    err: pino.stdSerializers.err,
  },
});

export const createLogger = (level: string, destination?: DestinationStream): Logger =>
  destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));

/** A request slower than this is logged at info even when it succeeded. */
export const SLOW_REQUEST_MS = 1000;

/**
 * Which requests are logged at which level. Fastify's default writes two info lines per
 * request, which at the check API's rates costs more than the check itself; here a successful,
 * fast request is logged only at debug (both lines, as before), while every refusal or failure
 * (status 400 and up: failed authentication and access decisions, OWASP ASVS 7.2.1, 7.2.2) and
 * every slow request still makes an info line. Accounting does not rely on these lines: the
 * audit trail is the event log.
 */
const DEBUG = pino.levels.values.debug ?? 20;
const debugEnabled = (log: FastifyBaseLogger) =>
  (pino.levels.values[log.level] ?? Number.POSITIVE_INFINITY) <= DEBUG;

export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (debugEnabled(request.log)) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) {
      super.requestCompleted(error, request, reply);
      return;
    }
    const responseTime = reply.elapsedTime;
    if (reply.statusCode >= 400 || responseTime >= SLOW_REQUEST_MS)
      reply.log.info({ req: request, res: reply, responseTime }, 'request completed');
    else if (debugEnabled(reply.log))
      reply.log.debug({ res: reply, responseTime }, 'request completed');
  }
}

/**
 * Fastify gives every request a child logger carrying its `reqId`; pino builds a child's
 * bindings (serialized, redacted) when it is made, whether or not the request ever logs. This
 * one makes it on the first enabled log call instead: most requests log nothing at info. A class,
 * not closures, so that a request costs one small object.
 */
class LazyChildLogger {
  #child: FastifyBaseLogger | undefined;
  constructor(
    readonly parent: FastifyBaseLogger,
    readonly bindings: pino.Bindings,
    readonly options: pino.ChildLoggerOptions,
  ) {}

  get level(): string {
    return this.#child?.level ?? this.options.level ?? this.parent.level;
  }
  set level(value: string) {
    this.real().level = value;
  }
  real(): FastifyBaseLogger {
    this.#child ??= this.parent.child(this.bindings, this.options);
    return this.#child;
  }
  #log(level: Level, args: LogArgs): void {
    const threshold = pino.levels.values[this.level] ?? Number.POSITIVE_INFINITY;
    if ((pino.levels.values[level] ?? 0) < threshold) return;
    const target = this.real();
    Reflect.apply(target[level], target, args);
  }
  fatal(...args: LogArgs): void {
    this.#log('fatal', args);
  }
  error(...args: LogArgs): void {
    this.#log('error', args);
  }
  warn(...args: LogArgs): void {
    this.#log('warn', args);
  }
  info(...args: LogArgs): void {
    this.#log('info', args);
  }
  debug(...args: LogArgs): void {
    this.#log('debug', args);
  }
  trace(...args: LogArgs): void {
    this.#log('trace', args);
  }
  silent(): void {}
  child(bindings: pino.Bindings, options?: pino.ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }
}
type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogArgs = [obj: unknown, msg?: string, ...rest: unknown[]];

export const lazyChildLogger = (
  parent: FastifyBaseLogger,
  bindings: pino.Bindings,
  options: pino.ChildLoggerOptions,
): FastifyBaseLogger => new LazyChildLogger(parent, bindings, options);
