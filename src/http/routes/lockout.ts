// Lockout over HTTP: a principal's failures and lockout, and unlocking it (src/authn/lockout.ts).
import { Type } from '@sinclair/typebox';
import { lockoutState, unlockPrincipal } from '../../authn/lockout.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { run } from '../command.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Nullable } from '../schemas.ts';
import type { App } from '../types.ts';
import { IdParams } from './auth-schemas.ts';

export const lockoutRoutes = async (app: App) => {
  app.get(
    '/principals/:id/lockout',
    {
      schema: {
        summary: "A principal's consecutive failures and lockout",
        tags: ['authentication'],
        params: IdParams,
        response: {
          200: Type.Object({
            lockedUntil: Nullable(Type.String()),
            failures: Type.Integer(),
            lockouts: Type.Integer(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS, request.params.id);
      return lockoutState(app.node.read, request.params.id, Date.now());
    },
  );

  app.post(
    '/principals/:id/unlock',
    {
      schema: {
        summary: 'Unlock a locked-out principal and reset its failure count (elevated)',
        tags: ['authentication'],
        params: IdParams,
        response: { 200: Type.Object({ unlocked: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(request, reply, unlockPrincipal({ principalId: request.params.id })),
  );
};
