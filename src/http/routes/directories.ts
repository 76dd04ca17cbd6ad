import { Type } from '@sinclair/typebox';
import { getDirectory, listDirectories } from '../../../projections/identities.ts';
import { changeIdentityDirectory, defineIdentityDirectory } from '../../authn/principals.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { AppError } from '../../errors.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Id, Nullable, Strict } from '../schemas.ts';
import type { App } from '../types.ts';

const Directory = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  status: Type.String(),
  /** The credential directories its identities may use; null: any. */
  credentialDirectoryIds: Nullable(Type.Array(Type.String())),
});
const CredentialDirectoryIds = Nullable(Type.Array(Id, { maxItems: 16 }));

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
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS);
      return { items: listDirectories(app.node.read) };
    },
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
            credentialDirectoryIds: Type.Optional(CredentialDirectoryIds),
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
          idChosen: request.body.directoryId !== undefined,
        }),
      );
      return reply.status(201).send(result);
    },
  );

  app.patch(
    '/identity-directories/:id',
    {
      bodyLimit: 8 * 1024,
      schema: {
        summary:
          'Change an identity directory: its description, or the credential directories its identities may use (null: any)',
        tags: ['directories'],
        params: Type.Object({ id: Id }, Strict),
        body: Type.Object(
          {
            description: Type.Optional(Type.String({ maxLength: 4000 })),
            credentialDirectoryIds: Type.Optional(CredentialDirectoryIds),
          },
          Strict,
        ),
        response: { 200: Directory, ...errorResponses },
      },
    },
    async (request, reply) => {
      await run(
        request,
        reply,
        changeIdentityDirectory({ directoryId: request.params.id, ...request.body }),
      );
      const directory = getDirectory(app.node.read, request.params.id);
      if (!directory) throw new AppError('DIRECTORY_NOT_FOUND', 'no such identity directory');
      return directory;
    },
  );
};
