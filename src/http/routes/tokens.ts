// Access tokens over HTTP. The secret is in the answer to the issuing request and nowhere else:
// not in events, not in logs, never again retrievable.
import { Type } from '@sinclair/typebox';
import {
  hashSecret,
  issueAccessToken,
  MAX_TOKEN_DAYS,
  newTokenSecret,
  revokeCredential,
} from '../../authn/tokens.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { errorResponses, Id, Strict } from '../schemas.ts';
import type { App } from '../types.ts';

export const tokenRoutes = async (app: App) => {
  app.post(
    '/principals/:id/tokens',
    {
      schema: {
        params: Type.Object({ id: Id }, Strict),
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TOKEN_DAYS })),
            subnets: Type.Optional(Type.Array(Type.String({ maxLength: 50 }), { maxItems: 16 })),
          },
          Strict,
        ),
        response: {
          201: Type.Object({
            credentialId: Type.String(),
            token: Type.String(),
            expiresAt: Type.String(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const token = newTokenSecret();
      const result = await run(
        request,
        reply,
        issueAccessToken({
          credentialId: newId(),
          principalId: request.params.id,
          secretHash: hashSecret(token),
          ...request.body,
        }),
      );
      return reply.status(201).send({ ...result, token });
    },
  );

  app.delete(
    '/tokens/:id',
    {
      schema: {
        params: Type.Object({ id: Id }, Strict),
        response: { 200: Type.Object({ revoked: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(request, reply, revokeCredential({ credentialId: request.params.id })),
  );
};
