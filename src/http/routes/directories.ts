import { Type } from '@sinclair/typebox';
import { defineIdentityDirectory } from '../../authn/principals.ts';
import { listDirectories } from '../../authn/queries.ts';
import { newId } from '../../node/node.ts';
import type { App } from '../app.ts';
import { run } from '../command.ts';
import { errorResponses, Id, Strict } from '../schemas.ts';

const Directory = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  status: Type.String(),
});

export const directoryRoutes = async (app: App) => {
  app.get(
    '/identity-directories',
    {
      schema: {
        summary: 'List identity directories',
        tags: ['directories'],
        response: { 200: Type.Object({ items: Type.Array(Directory) }), ...errorResponses },
      },
    },
    async () => ({ items: listDirectories(app.node.read) }),
  );

  app.post(
    '/identity-directories',
    {
      bodyLimit: 8 * 1024,
      schema: {
        summary: 'Define an identity directory',
        tags: ['directories'],
        body: Type.Object(
          {
            directoryId: Type.Optional(Id),
            name: Type.String({ maxLength: 1000 }),
            description: Type.Optional(Type.String({ maxLength: 4000 })),
          },
          Strict,
        ),
        response: { 201: Type.Object({ directoryId: Type.String() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const result = await run(
        request,
        reply,
        defineIdentityDirectory({
          ...request.body,
          directoryId: request.body.directoryId ?? newId(),
        }),
      );
      return reply.status(201).send(result);
    },
  );
};
