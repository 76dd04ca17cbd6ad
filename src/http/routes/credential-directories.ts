// Credential directories over HTTP: kinds of credential and the evidences they provide
// (src/authn/credentials.ts).
import { Type } from '@sinclair/typebox';
import {
  changeCredentialDirectory,
  defineCredentialDirectory,
  listCredentialDirectories,
} from '../../authn/credentials.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { run } from '../command.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Id, Strict } from '../schemas.ts';
import type { App } from '../types.ts';
import { EvidenceName, IdParams } from './auth-schemas.ts';

const DirectorySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  evidences: Type.Array(Type.String()),
  evidenceLifetimeSeconds: Type.Integer(),
});

export const credentialDirectoryRoutes = async (app: App) => {
  app.get(
    '/credential-directories',
    {
      schema: {
        summary: 'Credential directories: kinds of credential and the evidences they provide',
        tags: ['authentication'],
        response: { 200: Type.Object({ items: Type.Array(DirectorySchema) }), ...errorResponses },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS);
      return { items: listCredentialDirectories(app.node.read) };
    },
  );

  app.post(
    '/credential-directories',
    {
      schema: {
        summary: 'Define a credential directory',
        tags: ['authentication'],
        body: Type.Object(
          {
            directoryId: Id,
            name: Type.String({ minLength: 1, maxLength: 100 }),
            kind: Type.Union(
              ['password', 'otp', 'subnet', 'gateway', 'token'].map((k) => Type.Literal(k)),
            ),
            evidences: Type.Array(EvidenceName, { minItems: 1, maxItems: 5 }),
            evidenceLifetimeSeconds: Type.Optional(
              Type.Integer({ minimum: 60, maximum: 31_536_000 }),
            ),
          },
          Strict,
        ),
        response: { 201: DirectorySchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const result = await run(request, reply, defineCredentialDirectory(request.body));
      return reply.status(201).send(result);
    },
  );

  app.patch(
    '/credential-directories/:id',
    {
      schema: {
        summary: 'Change a credential directory (name, evidences, evidence lifetime; elevated)',
        tags: ['authentication'],
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            evidences: Type.Optional(Type.Array(EvidenceName, { minItems: 1, maxItems: 5 })),
            evidenceLifetimeSeconds: Type.Optional(
              Type.Integer({ minimum: 60, maximum: 31_536_000 }),
            ),
          },
          Strict,
        ),
        response: { 200: DirectorySchema, ...errorResponses },
      },
    },
    async (request, reply) =>
      run(
        request,
        reply,
        changeCredentialDirectory({ directoryId: request.params.id, ...request.body }),
      ),
  );
};
