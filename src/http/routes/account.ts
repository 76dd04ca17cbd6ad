// Self-service over HTTP: registration by email with verification, password reset (the use cases
// in src/authn/flows/recovery.ts). Registration and the reset request answer the same whatever
// the address or identity names (no user enumeration: OWASP Forgot Password Cheat Sheet,
// Authentication Cheat Sheet "Authentication and error messages"; ASVS 2.5.1 for the tokens): the
// flow checks the input and takes the attempt, the answer is given, and the work that depends on
// who exists (argon2 hashing, the write, the mail) runs after the answer, one request at a time,
// so neither the body, the status nor the timing tells. The mail goes to the outbox
// (src/authn/outbox.ts).
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import {
  completeReset,
  confirmEmail,
  type Later,
  startPasswordReset,
  startRegistration,
} from '../../authn/flows/recovery.ts';
import { fileOutbox, type Outbox } from '../../authn/outbox.ts';
import { RESET_PREFIX, VERIFY_PREFIX } from '../../authn/self-service.ts';
import { AppError } from '../../errors.ts';
import { authRouteConfig } from '../rate-limit.ts';
import { errorResponses, Strict } from '../schemas.ts';
import { callerOf } from '../sessions.ts';
import type { App } from '../types.ts';
import { Password } from './auth-schemas.ts';

const token = (prefix: string) =>
  Type.String({ pattern: `^${prefix}[A-Za-z0-9_-]{43}$`, maxLength: 47 });
const Accepted = Type.Object({ status: Type.Literal('check-your-mail'), detail: Type.String() });
const CHECK_MAIL = {
  status: 'check-your-mail' as const,
  detail: 'If the address can receive it, a message is on its way; follow the link in it.',
};

export const accountRoutes = async (app: App) => {
  const settings = app.sessions.settings;
  const outbox: Outbox | undefined =
    settings.outboxDir === null ? undefined : fileOutbox(settings.outboxDir);

  // Work after the answer, one at a time; the app waits for it when closing. Bounded, so a flood
  // from many addresses cannot queue argon2 work without end: past the bound every caller gets
  // the same 429, whoever it names.
  let pending: Promise<void> = Promise.resolve();
  let queued = 0;
  const MAX_QUEUED = 256;
  const later = (reply: FastifyReply, what: string, work: Later): void => {
    if (queued >= MAX_QUEUED) {
      reply.header('retry-after', '10');
      throw new AppError('RATE_LIMITED', 'too many requests; retry in 10s', {
        retryAfterSeconds: 10,
      });
    }
    queued += 1;
    pending = pending
      .then(work)
      .catch((err: unknown) => {
        app.log.error({ err }, `${what} failed`);
      })
      .finally(() => {
        queued -= 1;
      });
  };
  app.addHook('onClose', async () => {
    await pending;
  });

  app.post(
    '/auth/register',
    {
      config: { ...authRouteConfig, public: true },
      schema: {
        summary: 'Register with an email address (when registration is open)',
        description:
          'Creates an active principal with an unverified address, an identity (the address) in the internal directory and a password, and mails a verification token (single use, 24 h by default). The answer is the same when the address is already registered (its owner is mailed instead). 403 REGISTRATION_CLOSED unless AUTHLOG_REGISTRATION=open.',
        tags: ['authentication'],
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 320 }),
            briefName: Type.String({ minLength: 1, maxLength: 200 }),
            password: Password,
          },
          Strict,
        ),
        response: { 202: Accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const work = startRegistration(
        app.sessions.ports(request),
        callerOf(request, reply, { anonymous: true }),
        outbox,
        request.body,
      );
      later(reply, 'registration', work);
      return reply.status(202).send(CHECK_MAIL);
    },
  );

  app.post(
    '/auth/verify-email',
    {
      config: { ...authRouteConfig, public: true },
      schema: {
        summary: 'Verify an email address with the token mailed at registration',
        description: 'Single use; 400 TOKEN_INVALID when unknown, used or expired.',
        tags: ['authentication'],
        body: Type.Object({ token: token(VERIFY_PREFIX) }, Strict),
        response: { 200: Type.Object({ emailVerified: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      confirmEmail(app.sessions.ports(request), callerOf(request, reply), request.body.token),
  );

  app.post(
    '/auth/reset/request',
    {
      config: { ...authRouteConfig, public: true },
      schema: {
        summary: 'Ask for a password reset token by mail',
        description:
          'The identity (internal directory) or the email address of a principal. The same answer whether or not it names anyone; the token (single use, 30 min by default) goes to the principal’s address.',
        tags: ['authentication'],
        body: Type.Object({ identity: Type.String({ minLength: 1, maxLength: 320 }) }, Strict),
        response: { 202: Accepted, ...errorResponses },
      },
    },
    async (request, reply) => {
      const work = startPasswordReset(
        app.sessions.ports(request),
        callerOf(request, reply, { anonymous: true }),
        outbox,
        request.body.identity,
      );
      later(reply, 'password reset request', work);
      return reply.status(202).send(CHECK_MAIL);
    },
  );

  app.post(
    '/auth/reset/complete',
    {
      config: { ...authRouteConfig, public: true },
      schema: {
        summary: 'Set a new password with a reset token',
        description:
          'Ends every session of the principal. Nothing else changes: the next login needs every evidence the policy requires (an OTP with MFA), and a locked-out account stays locked. 400 TOKEN_INVALID when unknown, used, expired or issued before the password last changed.',
        tags: ['authentication'],
        body: Type.Object({ token: token(RESET_PREFIX), password: Password }, Strict),
        response: {
          200: Type.Object({ passwordChanged: Type.Boolean(), endedSessions: Type.Integer() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) =>
      completeReset(app.sessions.ports(request), callerOf(request, reply), request.body),
  );
};
