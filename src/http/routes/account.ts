// Self-service over HTTP: password change by the user, registration by email with verification,
// password reset. Registration and the reset request answer the same whatever the address or
// identity names (no user enumeration: OWASP Forgot Password Cheat Sheet, Authentication Cheat
// Sheet "Authentication and error messages"; ASVS 2.5.1 for the tokens): the
// input is checked, the answer given, and the work that depends on who exists (argon2 hashing,
// the write, the mail) happens after the answer, one request at a time, so neither the body,
// the status nor the timing tells. The mail goes to the outbox (src/authn/outbox.ts).
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { principalByEmailKey } from '../../../projections/principals.ts';
import { fileOutbox, type Outbox } from '../../authn/outbox.ts';
import { changeOwnPassword } from '../../authn/password-change.ts';
import { passwordProvider } from '../../authn/password-provider.ts';
import { checkNewPassword, hashPassword } from '../../authn/passwords.ts';
import {
  completePasswordReset,
  mailAddressOf,
  newAccountToken,
  RESET_PREFIX,
  registerSelf,
  requestPasswordReset,
  resetTokenPrincipal,
  VERIFY_PREFIX,
  verifyEmail,
} from '../../authn/self-service.ts';
import { prepareEvidence, sessionCredentialDirectories } from '../../authn/sessions.ts';
import { hashSecret } from '../../authn/tokens.ts';
import { AppError } from '../../errors.ts';
import * as normalize from '../../events/normalize.ts';
import type { Command } from '../../node/command.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { clientIp } from '../proxy.ts';
import { authRouteConfig } from '../rate-limit.ts';
import { errorResponses, Strict } from '../schemas.ts';
import { principalOfIdentity } from '../sessions.ts';
import type { App } from '../types.ts';
import { failed, ownSession } from './auth.ts';

const Password = Type.String({ minLength: 1, maxLength: 4096 });
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
  const later = (reply: FastifyReply, what: string, work: () => Promise<void>): void => {
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

  // Codes (reset, verification) are guessed like tokens: one that resolves to nothing counts
  // against the client's `token:` bucket, shared with bearer and session tokens (rate-limit.ts),
  // and a client whose bucket is full gets 429 before its code is looked up. The authentication
  // route limit per address counts every request on top.
  const guarded = async <R>(request: FastifyRequest, work: () => Promise<R> | R): Promise<R> => {
    const keys = [app.authThrottle.tokenKey(request)];
    app.authThrottle.check(request, keys);
    try {
      return await work();
    } catch (err) {
      if (err instanceof AppError && err.code === 'TOKEN_INVALID') app.authThrottle.fail(keys);
      throw err;
    }
  };

  const mailer = (): Outbox => {
    if (!outbox) throw new AppError('MAIL_UNAVAILABLE', 'this node has no outbox configured');
    return outbox;
  };
  const execute = <R>(request: FastifyRequest, command: Command<R>) =>
    app.node
      .execute(command, {
        actor: 'anonymous',
        correlationId: request.id,
        ip: clientIp(request),
      })
      .then((r) => r.result);

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
    async (request, reply) => {
      const session = ownSession(request);
      const { currentPassword, newPassword, endOtherSessions } = request.body;
      // Bad input first: it is refused before it counts as an attempt or changes anything.
      const normalized = checkNewPassword(newPassword, 'newPassword');
      await app.countAuthAttempt(request, reply, `account:${session.principalId}`);
      const ip = clientIp(request);
      const prepared = await prepareEvidence(
        [passwordProvider],
        app.node.read,
        {
          principalId: session.principalId,
          presented: { password: currentPassword },
          ip,
          credentialDirectories: sessionCredentialDirectories(app.node.read, session.sessionId),
        },
        Date.now(),
        settings.argon2,
      );
      const hash = await hashPassword(normalized, settings.argon2);
      const result = await run(
        request,
        reply,
        changeOwnPassword({
          sessionId: session.sessionId,
          current: currentPassword,
          hash,
          endOtherSessions,
          ip,
          prepared,
          settings,
        }),
      );
      if (!result.ok) throw failed();
      return { changed: true, endedSessions: result.endedSessions };
    },
  );

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
      if (settings.registration !== 'open')
        throw new AppError('REGISTRATION_CLOSED', 'registration is not open on this node');
      const box = mailer();
      const email = normalize.email('email', request.body.email);
      const briefName = normalize.text('briefName', request.body.briefName, 200);
      normalize.identityName('email', email.email);
      const normalized = checkNewPassword(request.body.password);
      await app.countAuthAttempt(request, reply, `mail:${email.key}`);
      later(reply, 'registration', async () => {
        const hash = await hashPassword(normalized, settings.argon2);
        const { token, hash: tokenHash } = newAccountToken(VERIFY_PREFIX);
        const result = await execute(
          request,
          registerSelf({
            principalId: newId(),
            identityId: newId(),
            credentialId: newId(),
            briefName,
            email,
            hash,
            tokenHash,
            lifetimeS: settings.verifyTokenS,
          }),
        );
        if (result.registered)
          await box.send({
            to: email.email,
            purpose: 'verify-email',
            subject: 'Confirm your email address',
            text: `Confirm your address for authlog with this code (valid ${settings.verifyTokenS / 3600} h, once): POST /v1/auth/verify-email {"token": "${token}"}`,
            token,
          });
        else
          await box.send({
            to: email.email,
            purpose: 'account-exists',
            subject: 'You already have an account',
            text: 'Someone (perhaps you) tried to register this address, which already has an account. Log in, or reset your password if you forgot it. If it was not you, ignore this message.',
          });
      });
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
    async (request, reply) => {
      await guarded(request, () =>
        run(request, reply, verifyEmail({ tokenHash: hashSecret(request.body.token) })),
      );
      return { emailVerified: true };
    },
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
      const box = mailer();
      const { identity } = request.body;
      let key = identity;
      try {
        key = normalize.identityName('identity', identity).key;
      } catch {
        // An impossible name is an unknown one: same answer.
      }
      await app.countAuthAttempt(request, reply, `mail:${key}`);
      later(reply, 'password reset request', async () => {
        let emailKey: string | undefined;
        try {
          emailKey = normalize.email('identity', identity).key;
        } catch {
          emailKey = undefined;
        }
        const principalId =
          principalOfIdentity(app.node, identity) ??
          (emailKey === undefined ? undefined : principalByEmailKey(app.node.read, emailKey));
        if (principalId === undefined) return;
        const address = mailAddressOf(app.node.read, principalId);
        if (!address) return;
        const { token, hash: tokenHash } = newAccountToken(RESET_PREFIX);
        const result = await execute(
          request,
          requestPasswordReset({ principalId, tokenHash, lifetimeS: settings.resetTokenS }),
        );
        if (!result.issued) return;
        await box.send({
          to: address.email,
          purpose: 'reset-password',
          subject: 'Reset your password',
          text: `Set a new password for authlog with this code (valid ${Math.round(settings.resetTokenS / 60)} min, once): POST /v1/auth/reset/complete {"token": "${token}", "password": "…"}. If you did not ask, ignore this message.`,
          token,
        });
      });
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
    async (request, reply) => {
      const normalized = checkNewPassword(request.body.password);
      const tokenHash = hashSecret(request.body.token);
      // The code first (cheap, throttled), then argon2: a guessed code costs no hashing.
      await guarded(request, () => resetTokenPrincipal(app.node.read, tokenHash, Date.now()));
      const hash = await hashPassword(normalized, settings.argon2);
      const result = await run(
        request,
        reply,
        completePasswordReset({ tokenHash, hash, credentialId: newId() }),
      );
      return { passwordChanged: true, endedSessions: result.endedSessions };
    },
  );
};
