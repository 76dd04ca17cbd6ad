// Hostile requests generated from an OpenAPI document: for each operation, fast-check
// arbitraries of requests that its schemas refuse (wrong types, missing and extra fields,
// oversized strings and bodies, null bytes, control and bidi characters, `__proto__` keys, wrong
// content types, huge and malformed headers). An Ajv oracle with the app's own options drops the
// rare generated variant that happens to be valid, so every case is invalid by construction.
import { Ajv } from 'ajv';
import fc from 'fast-check';

export type JsonSchema = Record<string, unknown>;

export type Operation = {
  readonly method: string;
  /** OpenAPI path, `{name}` for parameters. */
  readonly path: string;
  readonly pathParams: readonly { readonly name: string; readonly schema: JsonSchema }[];
  /** The query string as one object schema (every route's query refuses unknown keys). */
  readonly query: JsonSchema;
  readonly body: JsonSchema | undefined;
  readonly secured: boolean;
};

export type HostileRequest = {
  readonly kind: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly payload?: string | Buffer;
};

type OpenApi = {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { name: string; in: string; required?: boolean; schema: JsonSchema }[];
        requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
        security?: unknown[];
      }
    >
  >;
};

export const operationsOf = (doc: OpenApi): Operation[] =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const params = op.parameters ?? [];
      const queryParams = params.filter((p) => p.in === 'query');
      return {
        method: method.toUpperCase(),
        path,
        pathParams: params
          .filter((p) => p.in === 'path')
          .map((p) => ({ name: p.name, schema: p.schema })),
        query: {
          type: 'object',
          additionalProperties: false,
          properties: Object.fromEntries(queryParams.map((p) => [p.name, p.schema])),
          required: queryParams.filter((p) => p.required).map((p) => p.name),
        },
        body: op.requestBody?.content?.['application/json']?.schema,
        secured: (op.security ?? []).length > 0,
      };
    }),
  );

// The app's validation (src/http/validation.ts): strict bodies, coercing params and queries.
const base = {
  removeAdditional: false,
  useDefaults: true,
  allErrors: false,
  strict: false,
} as const;
const strictAjv = new Ajv({ ...base, coerceTypes: false });
const coercingAjv = new Ajv({ ...base, coerceTypes: 'array' });
const compiled = new WeakMap<JsonSchema, (v: unknown) => boolean>();
const validator = (ajv: Ajv, schema: JsonSchema) => {
  let v = compiled.get(schema);
  if (!v) {
    const fn = ajv.compile(schema);
    v = (value: unknown) => fn(value) === true;
    compiled.set(schema, v);
  }
  return v;
};
// Through JSON text, as the server receives it (and because Ajv's defaults mutate).
const wire = (value: unknown): unknown =>
  value === undefined ? undefined : JSON.parse(JSON.stringify(value));
export const validBody = (schema: JsonSchema, value: unknown): boolean =>
  validator(strictAjv, schema)(wire(value));
export const validParam = (schema: JsonSchema, encoded: string): boolean => {
  let value: string;
  try {
    value = decodeURIComponent(encoded);
  } catch {
    return false;
  }
  let wrapped = wrappers.get(schema);
  if (!wrapped) {
    wrapped = { type: 'object', properties: { v: schema } };
    wrappers.set(schema, wrapped);
  }
  return validator(coercingAjv, wrapped)({ v: value });
};
const wrappers = new WeakMap<JsonSchema, JsonSchema>();
const validQuery = (schema: JsonSchema, value: unknown): boolean =>
  validator(coercingAjv, schema)(wire(value));

/** Characters that have no place in any field: NUL, C0/C1 controls, bidi overrides, BOM, … */
export const HOSTILE_CHARS = [
  '\u0000',
  '\u0007',
  '\b',
  '\r\n',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u200b',
  '\u200e',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2028',
  '\ufeff',
  '\ud800',
  '\ue000',
];

const hostileChar = fc.constantFrom(...HOSTILE_CHARS);
const hostileText = fc
  .tuple(fc.string({ maxLength: 8 }), hostileChar, fc.string({ maxLength: 8 }))
  .map(([a, c, b]) => `${a}${c}${b}`);
const anyJson = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 20 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

const STRING_CANDIDATES = ['a', 'abc', 'a1', 'select', 'x.y', 'name@example.org', '+41446681800'];

/** A minimal value the schema accepts (required properties only), or undefined. */
export const sample = (schema: JsonSchema | undefined): unknown => {
  if (schema === undefined) return undefined;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  for (const key of ['anyOf', 'oneOf'] as const)
    if (Array.isArray(schema[key])) return sample((schema[key] as JsonSchema[])[0]);
  if ('default' in schema) return schema.default;
  switch (schema.type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      const required = (schema.required ?? []) as string[];
      return Object.fromEntries(required.map((k) => [k, sample(props[k])]));
    }
    case 'string': {
      const pattern = typeof schema.pattern === 'string' ? new RegExp(schema.pattern, 'u') : null;
      const min = Number(schema.minLength ?? 0);
      return STRING_CANDIDATES.find((c) => (!pattern || pattern.test(c)) && c.length >= min) ?? 'a';
    }
    case 'integer':
    case 'number':
      return Number(schema.minimum ?? 1);
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'null':
      return null;
    default:
      return undefined;
  }
};

const objectBranches = (schema: JsonSchema): JsonSchema[] => {
  for (const key of ['anyOf', 'oneOf'] as const)
    if (Array.isArray(schema[key])) return (schema[key] as JsonSchema[]).flatMap(objectBranches);
  return schema.type === 'object' ? [schema] : [];
};

const propsOf = (schema: JsonSchema): [string, JsonSchema][] =>
  objectBranches(schema).flatMap((b) =>
    Object.entries((b.properties ?? {}) as Record<string, JsonSchema>),
  );

/** Values of the wrong type, or out of range, or overlong, for a scalar schema. */
const wrongValue = (schema: JsonSchema): fc.Arbitrary<unknown> => {
  const options: fc.Arbitrary<unknown>[] = [anyJson, hostileText];
  if (typeof schema.maxLength === 'number') {
    const max = schema.maxLength;
    options.push(fc.integer({ min: max + 1, max: max + 2000 }).map((n) => 'x'.repeat(n)));
  }
  if (typeof schema.maximum === 'number') options.push(fc.constant(schema.maximum + 1));
  if (typeof schema.minimum === 'number') options.push(fc.constant(schema.minimum - 1));
  return fc.oneof(...options);
};

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];
const extraKey = (known: ReadonlySet<string>) =>
  fc
    .oneof(
      fc.constantFrom(...PROTO_KEYS, 'admin', 'isAdmin', 'role', 'id', '$where'),
      fc.string({ minLength: 1, maxLength: 30 }),
      hostileText,
    )
    .filter((k) => !known.has(k));

/** Bodies (as JSON text or raw text) the schema refuses. */
export const hostileBodies = (schema: JsonSchema): fc.Arbitrary<{ kind: string; text: string }> => {
  const valid = sample(schema);
  const branches = objectBranches(schema);
  const props = propsOf(schema);
  const known = new Set(props.map(([k]) => k));
  const asJson = (kind: string) => (v: unknown) => ({ kind, text: JSON.stringify(v) });
  const structural: fc.Arbitrary<{ kind: string; value: unknown }>[] = [
    fc
      .oneof(
        fc.constant(null),
        fc.integer(),
        fc.string({ maxLength: 10 }),
        fc.boolean(),
        fc.constant([]),
        fc.constant([valid]),
      )
      .map((value) => ({ kind: 'body: wrong root type', value })),
    fc
      .tuple(extraKey(known), anyJson)
      .map(([k, v]) => ({ kind: 'body: extra property', value: withKey(valid, k, v) })),
  ];
  for (const b of branches) {
    const required = (b.required ?? []) as string[];
    if (required.length > 0 && typeof valid === 'object' && valid !== null)
      structural.push(
        fc.constantFrom(...required).map((k) => {
          const copy = { ...(valid as Record<string, unknown>) };
          delete copy[k];
          return { kind: 'body: missing required property', value: copy };
        }),
      );
  }
  if (props.length > 0)
    structural.push(
      fc.constantFrom(...props).chain(([k, s]) =>
        wrongValue(s).map((v) => ({
          kind: 'body: wrong type, range or length',
          value: withKey(valid, k, v),
        })),
      ),
    );
  const checked = fc
    .oneof(...structural)
    .filter(({ value }) => !validBody(schema, value))
    .map(({ kind, value }) => asJson(kind)(value));

  const validText = JSON.stringify(valid ?? {});
  const raw = fc.oneof(
    // Prototype pollution through the parser: must be refused, not merged.
    fc.constantFrom(...PROTO_KEYS.slice(0, 2)).map((k) => ({
      kind: 'body: prototype key',
      text: `{${validText.slice(1, -1)}${validText.length > 2 ? ',' : ''}"${k}":{"prototype":{"polluted":true},"polluted":true}}`,
    })),
    fc.integer({ min: 1, max: Math.max(1, validText.length - 1) }).map((n) => ({
      kind: 'body: truncated JSON',
      text: validText.slice(0, n),
    })),
    fc
      .constantFrom('{', '}', '{"a":}', "{'a':1}", 'NaN', '{"a":1,}', '\u0000', '[[[[[[[[')
      .map((text) => ({ kind: 'body: not JSON', text })),
    fc.integer({ min: 2_000, max: 20_000 }).map((depth) => ({
      kind: 'body: deep nesting',
      text: `${'['.repeat(depth)}${']'.repeat(depth)}`,
    })),
    fc.integer({ min: 17 * 1024, max: 300 * 1024 }).map((n) => ({
      kind: 'body: oversized',
      text: JSON.stringify({ ...(valid as object), pad: 'x'.repeat(n) }),
    })),
  );
  return fc.oneof({ arbitrary: checked, weight: 3 }, { arbitrary: raw, weight: 2 });
};

const withKey = (obj: unknown, key: string, value: unknown): Record<string, unknown> => {
  const copy: Record<string, unknown> =
    typeof obj === 'object' && obj !== null && !Array.isArray(obj) ? { ...obj } : {};
  // defineProperty, so a `__proto__` key is an own property that JSON.stringify writes out.
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
};

/** Path parameter values the `Id`-like schemas refuse, URL-encoded (or raw where noted). */
export const hostilePathValue: fc.Arbitrary<{ kind: string; value: string }> = fc.oneof(
  hostileText.map((t) => ({ kind: 'path: hostile characters', value: encode(t) })),
  fc
    .constantFrom(' ', '/', '?', '#', '\\', '<', '"', "'", 'é', '😀', '..', '%', '*', '$', '&')
    .map((c) => ({ kind: 'path: forbidden character', value: encode(`a${c}b`) })),
  fc.constantFrom('.', '..', '-a', '_a', '.hidden').map((v) => ({
    kind: 'path: bad first character',
    value: encode(v),
  })),
  fc.integer({ min: 65, max: 400 }).map((n) => ({ kind: 'path: overlong', value: 'a'.repeat(n) })),
  fc.constantFrom('%zz', '%', '%E0%A4%A', '%00', '%C0%AF').map((value) => ({
    kind: 'path: malformed encoding',
    value,
  })),
);

/** encodeURIComponent, except that a lone surrogate becomes the invalid UTF-8 it would be. */
export const encode = (s: string): string =>
  s
    .replace(/[\ud800-\udfff]/gu, '\u0000LONE\u0000')
    .split('\u0000LONE\u0000')
    .map(encodeURIComponent)
    .join('%ED%A0%80');

const encodeQuery = (pairs: [string, string][]) =>
  pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');

const parseQuery = (pairs: [string, string][]) => {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const prev = Object.hasOwn(out, k) ? out[k] : undefined;
    const next = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    Object.defineProperty(out, k, { value: next, enumerable: true, writable: true });
  }
  return out;
};

/** Query strings the route's query schema refuses. */
export const hostileQueries = (
  schema: JsonSchema,
): fc.Arbitrary<{ kind: string; query: string }> => {
  const props = Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>);
  const known = new Set(props.map(([k]) => k));
  const validPairs: [string, string][] = Object.entries(
    (sample(schema) ?? {}) as Record<string, unknown>,
  ).map(([k, v]) => [k, String(v)]);
  const options: fc.Arbitrary<{ kind: string; pairs: [string, string][] }>[] = [
    fc.tuple(extraKey(known), fc.string({ maxLength: 20 })).map(([k, v]) => ({
      kind: 'query: unknown parameter',
      pairs: [...validPairs, [k, v]],
    })),
    fc
      .constantFrom('__proto__[polluted]', '__proto__', 'constructor[prototype][polluted]')
      .map((k) => ({ kind: 'query: prototype key', pairs: [...validPairs, [k, '1']] })),
  ];
  if (props.length > 0) {
    options.push(
      fc.constantFrom(...props).chain(([k, s]) =>
        fc
          .oneof(
            hostileText,
            fc.constantFrom('abc', '1.5', '-1', '1e309', '9'.repeat(40), 'maybe', 'TRUE', 'null'),
            fc.integer({ min: 1, max: 5000 }).map((n) => 'x'.repeat(n)),
            ...(typeof s.maxLength === 'number' ? [fc.constant('a'.repeat(s.maxLength + 1))] : []),
          )
          .map((v) => ({
            kind: 'query: wrong value',
            pairs: [...validPairs.filter(([name]) => name !== k), [k, v] as [string, string]],
          })),
      ),
      fc.constantFrom(...props).map(([k]) => ({
        kind: 'query: repeated parameter',
        pairs: [
          ...validPairs.filter(([name]) => name !== k),
          [k, '1'] as [string, string],
          [k, '2'] as [string, string],
        ],
      })),
    );
  }
  return fc
    .oneof(...options)
    .filter(({ pairs }) => !validQuery(schema, parseQuery(pairs)))
    .map(({ kind, pairs }) => ({ kind, query: encodeQuery(pairs) }));
};

/** Header sets that must make any protected route refuse, whatever else the request holds. */
export const hostileHeaders = (
  token: string,
): fc.Arbitrary<{ kind: string; headers: Record<string, string> }> =>
  fc.oneof(
    fc.constant({ kind: 'headers: no credential', headers: {} }),
    fc
      .oneof(
        fc.constant(`Bearer ${token.slice(0, -1)}`),
        fc.constant(`Bearer ${token}x`),
        fc.constant(`bearer  ${token}`),
        fc.constant(`Basic ${Buffer.from(`admin:${token}`).toString('base64')}`),
        fc.integer({ min: 513, max: 20_000 }).map((n) => `Bearer ${'A'.repeat(n)}`),
        hostileText.map((t) => `Bearer ${t}`),
      )
      .map((authorization) => ({ kind: 'headers: bad credential', headers: { authorization } })),
    fc
      .tuple(
        fc.oneof(
          hostileText,
          fc.constantFrom('x', 'node:-1', 'NODE:1', ':', 'a:99999999999999999999', 'a:1:2'),
          fc.integer({ min: 100, max: 20_000 }).map((n) => `a:${'9'.repeat(n)}`),
        ),
        fc.integer({ min: 0, max: 30_000 }),
      )
      .map(([after, pad]) => ({
        kind: 'headers: bad authlog-after, huge neighbours',
        headers: {
          authorization: `Bearer ${token}`,
          'authlog-after': after,
          'x-padding': 'p'.repeat(pad),
          cookie: `__Host-authlog-session=${'c'.repeat(Math.min(pad, 4000))}; junk=\u0000`,
          'user-agent': `agent\r\n{"level":60,"msg":"forged"}`,
        },
      })),
  );

/** Byte sequences that are not UTF-8 (Unicode 3.9 Table 3-7): a lone continuation byte, overlong
 * forms, an encoded surrogate, past U+10FFFF, a truncated sequence, Latin-1, issue 14 row 7's. */
export const NOT_UTF8 = [
  [0x80],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xe9],
  [0xc3, 0x28, 0xff, 0xfe],
].map((b) => Buffer.from(b));

/** A body with bytes that are not UTF-8 inserted anywhere (inside a string, between tokens). */
export const notUtf8Bodies = (text: string): fc.Arbitrary<{ kind: string; bytes: Buffer }> =>
  fc.tuple(fc.constantFrom(...NOT_UTF8), fc.nat()).map(([bad, at]) => {
    const bytes = Buffer.from(text, 'utf8');
    const i = at % (bytes.length + 1);
    return {
      kind: 'body: not UTF-8',
      bytes: Buffer.concat([bytes.subarray(0, i), bad, bytes.subarray(i)]),
    };
  });

export const WRONG_CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'text/html',
  'application/octet-stream',
  'image/png',
  'application/jsonp',
  'application/json-patch+json',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'text/plain',
  'a'.repeat(2000),
];
