// Authentication policies over HTTP: which evidences a session requires and an elevation asks
// (src/authn/policy.ts).
import { Type } from '@sinclair/typebox';
import { listPolicies, setAuthPolicy } from '../../authn/policy.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { run } from '../command.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Id, Strict } from '../schemas.ts';
import type { App } from '../types.ts';
import { EvidenceName } from './auth-schemas.ts';

const PolicySchema = Type.Object({
  scope: Type.String(),
  subjectId: Type.String(),
  require: Type.Array(Type.String()),
  elevate: Type.Array(Type.String()),
});

export const policyRoutes = async (app: App) => {
  app.get(
    '/auth/policies',
    {
      schema: {
        summary: 'Authentication policies (required evidences, elevation evidences)',
        tags: ['authentication'],
        response: { 200: Type.Object({ items: Type.Array(PolicySchema) }), ...errorResponses },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS);
      return { items: listPolicies(app.node.read) };
    },
  );

  app.put(
    '/auth/policies/:scope/:id',
    {
      schema: {
        summary: 'Set the authentication policy of a principal or a role (elevated)',
        description:
          '`require`: evidences a session must hold before anything but adding evidence (MFA: knowledge + ownership; location: a subnet). `elevate`: evidences an elevation must present (default knowledge).',
        tags: ['authentication'],
        params: Type.Object(
          { scope: Type.Union([Type.Literal('principal'), Type.Literal('role')]), id: Id },
          Strict,
        ),
        body: Type.Object(
          {
            require: Type.Array(EvidenceName, { maxItems: 5 }),
            elevate: Type.Optional(Type.Array(EvidenceName, { maxItems: 5 })),
          },
          Strict,
        ),
        response: { 200: PolicySchema, ...errorResponses },
      },
    },
    async (request, reply) =>
      run(
        request,
        reply,
        setAuthPolicy({
          scope: request.params.scope,
          subjectId: request.params.id,
          ...request.body,
        }),
      ),
  );
};
