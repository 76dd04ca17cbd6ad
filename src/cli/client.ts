// The CLI's HTTP client: which node, with which credential, and how its answers become output
// or a CliError. Every response is checked against a schema before a command reads it.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { CliError, EXIT } from './errors.ts';
import { safe } from './output.ts';

export type ConnectionOptions = { readonly url?: string; readonly dataDir?: string };

export type Env = Readonly<Record<string, string | undefined>>;

export type Api = {
  get<T extends TSchema>(
    path: string,
    schema: T,
    query?: Readonly<Record<string, string | undefined>>,
  ): Promise<Static<T>>;
  send<T extends TSchema>(
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    schema: T,
    body?: object,
  ): Promise<Static<T>>;
};

const DEFAULT_URL = 'http://127.0.0.1:8080';
const TIMEOUT_MS = 30_000;
// What the server accepts in `Authorization: Bearer` (see http/app.ts).
const TOKEN = /^[A-Za-z0-9._~+/=-]{1,512}$/;

const ProblemBody = Type.Object({
  code: Type.String(),
  title: Type.Optional(Type.String()),
  detail: Type.Optional(Type.String()),
});

/** A path with every interpolated value encoded as one segment: `` path`/v1/principals/${id}` ``. */
export const path = (parts: TemplateStringsArray, ...values: readonly string[]): string =>
  parts.reduce(
    (acc, part, i) => acc + part + (i < values.length ? encodeURIComponent(values[i]!) : ''),
    '',
  );

const nodeUrl = (raw: string): URL => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`the node URL ${JSON.stringify(raw)} is not a URL`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`the node URL must be http:// or https://, not ${url.protocol}`, EXIT.usage);
  // The credential goes in a header, never in the URL where logs and shell history keep it.
  if (url.username || url.password)
    throw new CliError('the node URL must not contain a user name or password', EXIT.usage);
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
};

/**
 * The operator token: AUTHLOG_OPERATOR_TOKEN, else the `operatorToken` of the data folder's
 * secrets.json. Read directly: loadConfig would create folders and secrets as a side effect.
 * No message here ever includes the token.
 */
export const operatorToken = (opts: { readonly dataDir?: string }, env: Env): string => {
  const fromEnv = env.AUTHLOG_OPERATOR_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!TOKEN.test(fromEnv))
      throw new CliError('AUTHLOG_OPERATOR_TOKEN is not a valid bearer token', EXIT.usage);
    return fromEnv;
  }
  const file = join(resolve(opts.dataDir ?? env.AUTHLOG_DATA_DIR ?? 'data'), 'secrets.json');
  if (!existsSync(file)) {
    throw new CliError(
      `no operator token: set AUTHLOG_OPERATOR_TOKEN, or point --data-dir (AUTHLOG_DATA_DIR) at the node's data folder (${file} does not exist)`,
      EXIT.usage,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const why = err instanceof SyntaxError ? 'is not JSON' : 'cannot be read';
    throw new CliError(`${file} ${why}`, EXIT.usage);
  }
  const token =
    typeof parsed === 'object' && parsed !== null && 'operatorToken' in parsed
      ? parsed.operatorToken
      : undefined;
  if (typeof token !== 'string' || !TOKEN.test(token))
    throw new CliError(`${file} has no valid operatorToken`, EXIT.usage);
  return token;
};

const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

const causeOf = (err: unknown): string => {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) {
    const code = 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
    return code ?? cause.message;
  }
  return err instanceof Error ? err.message : String(err);
};

const failure = async (res: Response): Promise<CliError> => {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (Value.Check(ProblemBody, body)) {
    return new CliError(
      `error ${safe(body.code)}: ${safe(body.detail ?? body.title ?? `HTTP ${res.status}`)}`,
      EXIT.failed,
    );
  }
  return new CliError(
    `error HTTP_${res.status}: the node answered ${res.status} ${safe(res.statusText)} without a problem description`,
    EXIT.failed,
  );
};

/** The API of the node named by --url / AUTHLOG_URL, authenticated as the operator. */
export const connect = (opts: ConnectionOptions, env: Env = process.env): Api => {
  const base = nodeUrl(opts.url ?? env.AUTHLOG_URL ?? DEFAULT_URL);
  const token = operatorToken(opts, env);
  const where = base.href;
  if (base.protocol === 'http:' && !isLoopback(base.hostname))
    process.stderr.write(`warning: the operator token travels unencrypted to ${where}\n`);

  const request = async <T extends TSchema>(
    method: string,
    target: URL,
    schema: T,
    body?: object,
  ): Promise<Static<T>> => {
    let res: Response;
    try {
      res = await fetch(target, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json, application/problem+json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        // A redirect would carry the token somewhere the operator did not name.
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'TimeoutError')
        throw new CliError(
          `the authlog node at ${where} did not answer within ${TIMEOUT_MS / 1000} s`,
          EXIT.unreachable,
        );
      throw new CliError(
        `cannot reach the authlog node at ${where} (${safe(causeOf(err))}); is it running? Set --url or AUTHLOG_URL`,
        EXIT.unreachable,
      );
    }
    if (!res.ok) throw await failure(res);
    let payload: unknown;
    try {
      payload = await res.json();
    } catch {
      payload = undefined;
    }
    if (!Value.Check(schema, payload)) {
      throw new CliError(
        `unexpected answer from ${where} to ${method} ${target.pathname}: not the documented response (is this an authlog node of the same version?)`,
        EXIT.failed,
      );
    }
    return payload;
  };

  const at = (p: string): URL => new URL(p.replace(/^\/+/, ''), base);

  return {
    get(p, schema, query = {}) {
      const target = at(p);
      for (const [k, v] of Object.entries(query))
        if (v !== undefined) target.searchParams.set(k, v);
      return request('GET', target, schema);
    },
    send(method, p, schema, body) {
      return request(method, at(p), schema, body);
    },
  };
};
