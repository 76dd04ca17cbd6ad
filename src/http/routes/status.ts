import { Type } from '@sinclair/typebox';
import { listConflicts } from '../../authn/queries.ts';
import type { App } from '../app.ts';
import { errorResponses, Strict } from '../schemas.ts';

export const statusRoutes = async (app: App) => {
  app.get(
    '/status',
    {
      schema: {
        summary: "This node's id, applied version vector, writer state and optionally digest",
        tags: ['node'],
        querystring: Type.Object({ digest: Type.Optional(Type.Boolean()) }, Strict),
        response: {
          200: Type.Object({
            node: Type.String(),
            ready: Type.Boolean(),
            applied: Type.Record(Type.String(), Type.String()),
            buffered: Type.Integer(),
            writer: Type.Object({
              failed: Type.Union([Type.String(), Type.Null()]),
              batches: Type.Integer(),
              commands: Type.Integer(),
              events: Type.Integer(),
            }),
            driftAlarms: Type.Integer(),
            store: Type.String(),
            digest: Type.Optional(Type.String()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => ({
      ...app.node.status(),
      store: app.node.store.kind,
      ...(request.query.digest ? { digest: app.node.digest() } : {}),
    }),
  );

  app.get(
    '/conflicts',
    {
      schema: {
        summary: 'Conflicts settled by the convergence rules, for review',
        tags: ['node'],
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                kind: Type.String(),
                scope: Type.String(),
                subject: Type.String(),
                winner: Type.Union([Type.String(), Type.Null()]),
                detail: Type.Union([Type.String(), Type.Null()]),
                at: Type.String(),
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async () => ({ items: listConflicts(app.node.read) }),
  );
};
