// The rules every route follows, checked where routes are declared rather than remembered by
// whoever writes the next one (DESIGN.md section 10, "JSON schema on every route"):
// - a success response schema is mandatory (it is also the output filter: nothing undeclared
//   leaves), and so is a params schema when the path has parameters: registration fails without;
// - no query string, or no body, unless declared: a route that declares none gets an empty strict
//   schema, so unknown parameters are refused rather than ignored;
// - every route documents the problem+json answers.
import type { FastifyInstance, RouteOptions } from 'fastify';
import { EmptyObject, problemResponses } from './schemas.ts';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const enforceRouteConventions = (app: FastifyInstance): void => {
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const where = `${methods.join(',')} ${route.url}`;
    const schema = (route.schema ??= {});
    const response = (schema.response ?? {}) as Record<string, unknown>;
    if (!Object.keys(response).some((status) => /^2/.test(status)))
      throw new Error(`${where}: declare a response schema for the success answer`);
    if (route.url.includes(':') && !schema.params)
      throw new Error(`${where}: declare a params schema`);
    schema.querystring ??= EmptyObject;
    if (methods.some((m) => BODY_METHODS.has(m))) schema.body ??= EmptyObject;
    schema.response = { ...problemResponses, ...response };
  });
};
