// Recovery codes over HTTP (src/authn/recovery-codes.ts): generate a set (the codes are in that
// answer and nowhere else, ever; the previous set dies), and see how many are left and when each
// used one was used. A principal manages its own from an elevated session; anyone else needs
// `authlog.principals.manage` over it (checked in the command). Using a code is a login or step
// field (`recoveryCode` in POST /v1/auth/login, /auth/evidence, /auth/elevate).
import { Type } from '@sinclair/typebox';
import { getPrincipal } from '../../../projections/principals.ts';
import {
  generateRecoveryCodes,
  newRecoveryCodes,
  requireRecoveryCodes,
} from '../../authn/recovery-codes.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { AppError } from '../../errors.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { readerOf } from '../reader.ts';
import { errorResponses } from '../schemas.ts';
import type { App } from '../types.ts';
import { IdParams } from './auth-schemas.ts';

const RecoveryCodesSchema = Type.Object({
  credentialId: Type.String(),
  createdAt: Type.String(),
  total: Type.Integer(),
  remaining: Type.Integer(),
  used: Type.Array(Type.Object({ index: Type.Integer(), at: Type.String() })),
});

export const recoveryCodeRoutes = async (app: App) => {
  app.post(
    '/principals/:id/recovery-codes',
    {
      config: { cacheControl: 'no-store' },
      schema: {
        summary: 'Generate recovery codes; the answer holds them, once, and the old set dies',
        tags: ['credentials'],
        params: IdParams,
        response: {
          201: Type.Object({
            credentialId: Type.String(),
            codes: Type.Array(Type.String(), {
              description: 'each usable once, in place of the second factor; shown only here',
            }),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { codes, hashes } = await newRecoveryCodes(app.sessions.settings.argon2);
      const credentialId = newId();
      await run(
        request,
        reply,
        generateRecoveryCodes({ credentialId, principalId: request.params.id, hashes }),
      );
      return reply.status(201).send({ credentialId, codes });
    },
  );

  app.get(
    '/principals/:id/recovery-codes',
    {
      schema: {
        summary: 'How many recovery codes are left, and when each used one was used',
        tags: ['credentials'],
        params: IdParams,
        response: { 200: RecoveryCodesSchema, ...errorResponses },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS, request.params.id);
      if (!getPrincipal(app.node.read, request.params.id))
        throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${request.params.id}`);
      return requireRecoveryCodes(app.node.read, request.params.id);
    },
  );
};
