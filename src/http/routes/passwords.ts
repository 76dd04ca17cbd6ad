// Passwords over HTTP: an administrator sets one, a user changes their own (the use cases in
// src/authn/flows/passwords.ts: new-password rules, the throttle, argon2, the command).
import { Type } from '@sinclair/typebox';
import { changePassword, setPrincipalPassword } from '../../authn/flows/passwords.ts';
import { authRouteConfig } from '../rate-limit.ts';
import { errorResponses, Id, Nullable, Strict } from '../schemas.ts';
import { callerOf, ownSession } from '../sessions.ts';
import type { App } from '../types.ts';
import { IdParams, Password } from './auth-schemas.ts';

export const passwordRoutes = async (app: App) => {
  app.put(
    '/principals/:id/password',
    {
      config: { cacheControl: 'no-store' },
      schema: {
        summary:
          "Set a principal's password (administrators, elevated; Talos create_basic_credential)",
        description:
          "The deployment's policy (default 8 to 1024 characters after NFKC normalization, not a commonly used password; AUTHLOG_PASSWORD_*); stored as argon2id.",
        tags: ['authentication'],
        params: IdParams,
        body: Type.Object(
          {
            password: Password,
            directoryId: Type.Optional(Id),
            validFrom: Type.Optional(Nullable(Type.String({ maxLength: 30 }))),
            validUntil: Type.Optional(Nullable(Type.String({ maxLength: 30 }))),
          },
          Strict,
        ),
        response: {
          200: Type.Object({ credentialId: Type.String(), principalId: Type.String() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) =>
      setPrincipalPassword(app.sessions.ports(request), callerOf(request, reply), {
        principalId: request.params.id,
        ...request.body,
      }),
  );

  app.post(
    '/auth/password',
    {
      config: { ...authRouteConfig },
      schema: {
        summary: 'Change your own password (the current one required)',
        description:
          'The current password is verified like a login; a wrong one counts towards the lockout (401 AUTHENTICATION_FAILED). The new one follows the set-password rules. `endOtherSessions` (default true) ends every other session of the principal; the current session survives, its elevation does not.',
        tags: ['authentication'],
        body: Type.Object(
          {
            currentPassword: Password,
            newPassword: Password,
            endOtherSessions: Type.Boolean({ default: true }),
          },
          Strict,
        ),
        response: {
          200: Type.Object({ changed: Type.Boolean(), endedSessions: Type.Integer() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) =>
      changePassword(app.sessions.ports(request), callerOf(request, reply), {
        session: ownSession(request),
        ...request.body,
      }),
  );
};
