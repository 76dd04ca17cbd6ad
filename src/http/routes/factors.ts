// OTP and subnet credentials over HTTP: enroll a TOTP/HOTP credential (the seed and its
// otpauth:// URI are in this answer and nowhere else, ever), confirm it with a first code, allow
// subnets, list a principal's credentials. A principal manages its own; anyone else needs
// `authlog.principals.manage` (checked in the commands).
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { generateURI } from 'otplib';
import { getPrincipal } from '../../../projections/principals.ts';
import { listFactorCredentials } from '../../authn/factors.ts';
import {
  confirmOtp,
  enrollOtp,
  SEED_BYTES,
  seedFormProblem,
  seedFromBase32,
  seedToBase32,
} from '../../authn/otp.ts';
import { encryptSeed, type Keyring } from '../../authn/seed-crypto.ts';
import { allowSubnet } from '../../authn/subnets.ts';
import { revokeCredential } from '../../authn/tokens.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { AppError } from '../../errors.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { authRouteConfig } from '../rate-limit.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Id, Nullable, Strict } from '../schemas.ts';
import type { App } from '../types.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Keys that seal and open OTP seeds (AUTHLOG_TOTP_KEYS). */
    otpKeys: Keyring;
  }
}

const IdParams = Type.Object({ id: Id }, Strict);
const IsoTime = Type.String({ maxLength: 30, description: 'ISO 8601 UTC' });

const CredentialSchema = Type.Object({
  credentialId: Type.String(),
  kind: Type.Union([
    Type.Literal('password'),
    Type.Literal('totp'),
    Type.Literal('hotp'),
    Type.Literal('subnet'),
    Type.Literal('token'),
    Type.Literal('certificate'),
    Type.Literal('recovery'),
    Type.Literal('oidc'),
    Type.Literal('passkey'),
  ]),
  name: Type.String(),
  directoryId: Nullable(Type.String()),
  confirmed: Type.Boolean(),
  cidrs: Type.Array(Type.String()),
  createdAt: Type.String(),
  validUntil: Nullable(Type.String()),
  revoked: Type.Boolean(),
});

export const factorRoutes = async (app: App) => {
  app.post(
    '/principals/:id/otp',
    {
      config: { cacheControl: 'no-store' },
      schema: {
        summary: 'Enroll a TOTP or HOTP credential; the answer holds the seed, once',
        tags: ['credentials'],
        params: IdParams,
        body: Type.Object(
          {
            kind: Type.Optional(Type.Union([Type.Literal('totp'), Type.Literal('hotp')])),
            name: Type.String({ minLength: 1, maxLength: 100 }),
            digits: Type.Optional(Type.Union([Type.Literal(6), Type.Literal(8)])),
            algorithm: Type.Optional(
              Type.Union([Type.Literal('sha1'), Type.Literal('sha256'), Type.Literal('sha512')]),
            ),
            period: Type.Optional(Type.Integer({ minimum: 15, maximum: 300 })),
            counter: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 48 })),
            /** A hardware token's seed, base32 (RFC 4648) of 16 to 80 bytes, instead of a
             * generated one. Only its size is bounded here: its form is judged after the
             * elevation check (enrollOtp), so that refusal does not depend on the input. */
            secret: Type.Optional(
              Type.String({
                maxLength: 200,
                description: 'base32 (RFC 4648) of 16 to 80 bytes; spaces and lower case allowed',
              }),
            ),
            validUntil: Type.Optional(IsoTime),
          },
          Strict,
        ),
        response: {
          201: Type.Object({
            credentialId: Type.String(),
            kind: Type.String(),
            secret: Type.String({ description: 'base32 seed: shown in this answer only' }),
            uri: Type.String({ description: 'otpauth:// URI for an authenticator app' }),
            digits: Type.Integer(),
            algorithm: Type.String(),
            period: Nullable(Type.Integer()),
            counter: Nullable(Type.Integer()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const kind = b.kind ?? 'totp';
      // A given seed is checked for form here (strings only, nothing decoded) and refused by the
      // command after its authorization checks (see enrollOtp).
      const problem = b.secret === undefined ? undefined : seedFormProblem(b.secret);
      const seed =
        b.secret === undefined
          ? randomBytes(SEED_BYTES)
          : problem === undefined
            ? seedFromBase32(b.secret)
            : Buffer.alloc(0);
      const credentialId = newId();
      const digits = b.digits ?? 6;
      const algorithm = b.algorithm ?? 'sha1';
      const period = kind === 'totp' ? (b.period ?? 30) : null;
      const counter = kind === 'hotp' ? (b.counter ?? 0) : null;
      await run(
        request,
        reply,
        enrollOtp({
          credentialId,
          principalId: request.params.id,
          kind,
          name: b.name,
          digits,
          algorithm,
          period,
          counter,
          seed:
            problem === undefined
              ? encryptSeed(app.otpKeys, credentialId, seed)
              : { malformed: problem },
          ...(b.validUntil !== undefined ? { validUntil: b.validUntil } : {}),
        }),
      );
      const secret = seedToBase32(seed);
      const principal = getPrincipal(app.node.read, request.params.id);
      const uri = generateURI({
        strategy: kind,
        issuer: 'authlog',
        label: principal?.briefName || request.params.id,
        secret,
        algorithm,
        digits,
        ...(period !== null ? { period } : {}),
        ...(counter !== null ? { counter } : {}),
      });
      return reply
        .status(201)
        .send({ credentialId, kind, secret, uri, digits, algorithm, period, counter });
    },
  );

  app.post(
    '/credentials/:id/confirm',
    {
      config: { ...authRouteConfig },
      schema: {
        summary: 'Confirm an OTP credential with a first code (which is then used up)',
        tags: ['credentials'],
        params: IdParams,
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 10 }) }, Strict),
        response: {
          200: Type.Object({ credentialId: Type.String(), confirmed: Type.Boolean() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      // Guessing codes is throttled per credential too, whatever address it comes from.
      await app.countAuthAttempt(request, reply, `otp:${request.params.id}`);
      const result = await run(
        request,
        reply,
        confirmOtp(app.otpKeys, { credentialId: request.params.id, code: request.body.code }),
      );
      return { credentialId: request.params.id, confirmed: result.confirmed };
    },
  );

  app.post(
    '/principals/:id/subnets',
    {
      schema: {
        summary: 'Allow IPv4/IPv6 ranges as location evidence for a principal',
        tags: ['credentials'],
        params: IdParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            cidrs: Type.Array(Type.String({ maxLength: 50 }), { minItems: 1, maxItems: 16 }),
            validUntil: Type.Optional(IsoTime),
          },
          Strict,
        ),
        response: {
          201: Type.Object({ credentialId: Type.String(), cidrs: Type.Array(Type.String()) }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { name, cidrs, validUntil } = request.body;
      const result = await run(
        request,
        reply,
        allowSubnet({
          credentialId: newId(),
          principalId: request.params.id,
          name,
          cidrs,
          ...(validUntil !== undefined ? { validUntil } : {}),
        }),
      );
      return reply.status(201).send(result);
    },
  );

  app.delete(
    '/credentials/:id',
    {
      schema: {
        summary: 'Revoke a credential (OTP, subnet or access token); revocation is final',
        tags: ['credentials'],
        params: IdParams,
        response: { 200: Type.Object({ revoked: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(request, reply, revokeCredential({ credentialId: request.params.id })),
  );

  app.get(
    '/principals/:id/credentials',
    {
      schema: {
        summary:
          "A principal's credentials: password, OTP, subnets, tokens, certificates (never secrets)",
        tags: ['credentials'],
        params: IdParams,
        response: {
          200: Type.Object({ items: Type.Array(CredentialSchema) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS, request.params.id);
      if (!getPrincipal(app.node.read, request.params.id))
        throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${request.params.id}`);
      return { items: listFactorCredentials(app.node.read, request.params.id) };
    },
  );
};
