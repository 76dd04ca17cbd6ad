// Request validation: bodies are checked strictly (no type coercion: 42 is not a name), while
// params and query strings, which are text on the wire, coerce to their declared types. Unknown
// properties are refused, never silently dropped.

import { Ajv } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

const base = {
  removeAdditional: false,
  useDefaults: true,
  allErrors: false,
  strict: false,
} as const;
const strict = new Ajv({ ...base, coerceTypes: false });
const coercing = new Ajv({ ...base, coerceTypes: 'array' });

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema);
