// The rules every route follows, checked where routes are declared rather than remembered by
// whoever writes the next one (DESIGN.md section 10, "JSON schema on every route"):
// - a success response schema is mandatory (it is also the output filter: nothing undeclared
//   leaves), and so is a params schema when the path has parameters: registration fails without;
// - no query string, or no body, unless declared: a route that declares none gets an empty strict
//   schema, so unknown parameters are refused rather than ignored;
// - every object in a params, query or body schema refuses unknown properties
//   (`additionalProperties: false`, typebox's `Strict`): nothing the route did not ask for gets in;
// - every route documents the problem+json answers.
import type { FastifyInstance, RouteOptions } from 'fastify';
import { EmptyObject, problemResponses } from './schemas.ts';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** JSON pointers of the object schemas within `schema` that accept unknown properties. */
export const looseObjects = (schema: unknown, at = ''): string[] => {
  if (typeof schema !== 'object' || schema === null) return [];
  const s = schema as Record<string, unknown>;
  const found: string[] = [];
  const isObject =
    s.type === 'object' || (typeof s.properties === 'object' && s.type === undefined);
  if (isObject && s.additionalProperties !== false) found.push(at || '/');
  const props = (s.properties ?? {}) as Record<string, unknown>;
  for (const [name, sub] of Object.entries(props))
    found.push(...looseObjects(sub, `${at}/properties/${name}`));
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const)
    if (Array.isArray(s[key]))
      (s[key] as unknown[]).forEach((sub, i) => {
        found.push(...looseObjects(sub, `${at}/${key}/${i}`));
      });
  if (s.items !== undefined) found.push(...looseObjects(s.items, `${at}/items`));
  return found;
};

export const enforceRouteConventions = (app: FastifyInstance): void => {
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const where = `${methods.join(',')} ${route.url}`;
    route.schema ??= {};
    const schema = route.schema;
    const response = (schema.response ?? {}) as Record<string, unknown>;
    if (!Object.keys(response).some((status) => /^2/.test(status)))
      throw new Error(`${where}: declare a response schema for the success answer`);
    if (route.url.includes(':') && !schema.params)
      throw new Error(`${where}: declare a params schema`);
    schema.querystring ??= EmptyObject;
    if (methods.some((m) => BODY_METHODS.has(m))) schema.body ??= EmptyObject;
    for (const part of ['params', 'querystring', 'body'] as const) {
      const loose = looseObjects(schema[part]);
      if (loose.length > 0)
        throw new Error(
          `${where}: the ${part} schema must refuse unknown properties (Strict) at ${loose.join(', ')}`,
        );
    }
    schema.response = { ...problemResponses, ...response };
  });
};
