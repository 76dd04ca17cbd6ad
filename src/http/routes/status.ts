import { Type } from '@sinclair/typebox';
import { READ_NODE, requireRead } from '../../authz/reads.ts';
import { listConflicts } from '../../readmodel/conflicts.ts';
import { readerOf } from '../reader.ts';
import { ConflictsSchema, errorResponses, NodeStatusSchema, Strict } from '../schemas.ts';
import type { App } from '../types.ts';

export const statusRoutes = async (app: App) => {
  app.get(
    '/status',
    {
      schema: {
        summary: "This node's id, applied version vector, writer state and optionally digest",
        tags: ['node'],
        querystring: Type.Object({ digest: Type.Optional(Type.Boolean()) }, Strict),
        response: {
          200: NodeStatusSchema,
          ...errorResponses,
        },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_NODE);
      return {
        ...app.node.status(),
        ...(request.query.digest ? { digest: app.node.digest() } : {}),
      };
    },
  );

  app.get(
    '/conflicts',
    {
      schema: {
        summary: 'Conflicts settled by the convergence rules, for review',
        tags: ['node'],
        response: {
          200: ConflictsSchema,
          ...errorResponses,
        },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_NODE);
      return { items: listConflicts(app.node.read) };
    },
  );
};
