// Structured logs (pino, one JSON object a line, each request line carrying its `reqId`). Secrets
// never reach the log (OWASP ASVS 7.1.1): requests are logged by a serializer that names what it
// keeps (no headers, query values of secret-looking parameters replaced), and redaction catches
// secret-named fields in anything else a log line includes. User input is only ever a JSON string
// value, which escapes CR, LF and every control character: no forged lines (ASVS 7.3.1).
import type { FastifyRequest } from 'fastify';
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
