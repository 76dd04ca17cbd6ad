import { Type } from '@sinclair/typebox';
import { getIdentity, identitiesOf } from '../../../projections/identities.ts';
import { getPrincipal, listPrincipals } from '../../../projections/principals.ts';
import { emailChangedNotice, fileOutbox } from '../../authn/outbox.ts';
import {
  activatePrincipal,
  addIdentity,
  changeProfile,
  deactivatePrincipal,
  deletePrincipal,
  registerPrincipal,
  removeIdentity,
} from '../../authn/principals.ts';
import { mayRead, READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { AppError } from '../../errors.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { readerOf } from '../reader.ts';
import {
  errorResponses,
  Id,
  IdentitySchema,
  Nullable,
  PrincipalSchema,
  Strict,
} from '../schemas.ts';
import type { App } from '../types.ts';

const IdParams = Type.Object({ id: Id }, Strict);
const PrincipalWithIdentities = Type.Composite([
  PrincipalSchema,
  Type.Object({ identities: Type.Array(IdentitySchema) }),
]);

export const principalRoutes = async (app: App) => {
  app.get(
    '/principals',
    {
      schema: {
        summary: 'List principals, in id order, a page at a time',
        tags: ['principals'],
        querystring: Type.Object(
          {
            after: Type.Optional(Id),
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
            includeDeleted: Type.Boolean({ default: false }),
          },
          Strict,
        ),
        response: {
          200: Type.Object({ items: Type.Array(PrincipalSchema), next: Nullable(Type.String()) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const who = readerOf(request);
      if (mayRead(app.node.authz, who, READ_PRINCIPALS))
        return listPrincipals(app.node.read, request.query);
      // Without the read privilege a principal sees itself only.
      const self = getPrincipal(app.node.read, who.actor);
      const visible =
        self !== undefined &&
        (request.query.after === undefined || self.id > request.query.after) &&
        (request.query.includeDeleted || !self.deleted);
      return { items: visible ? [self] : [], next: null };
    },
  );

  app.get(
    '/principals/:id',
    {
      schema: {
        summary: 'A principal with its identities',
        tags: ['principals'],
        params: IdParams,
        response: { 200: PrincipalWithIdentities, ...errorResponses },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS, request.params.id);
      const p = getPrincipal(app.node.read, request.params.id);
      if (!p) throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${request.params.id}`);
      return { ...p, identities: identitiesOf(app.node.read, p.id) };
    },
  );

  app.post(
    '/principals',
    {
      bodyLimit: 8 * 1024,
      schema: {
        summary: 'Register a principal, optionally with a first identity',
        tags: ['principals'],
        body: Type.Object(
          {
            principalId: Type.Optional(Id),
            kind: Type.Union([Type.Literal('person'), Type.Literal('service')], {
              default: 'person',
            }),
            briefName: Type.String({ maxLength: 1000 }),
            fullName: Type.Optional(Type.String({ maxLength: 1000 })),
            email: Type.Optional(Type.String({ maxLength: 1000 })),
            phone: Type.Optional(Type.String({ maxLength: 100 })),
            identity: Type.Optional(
              Type.Object(
                { name: Type.String({ maxLength: 1000 }), directoryId: Type.Optional(Id) },
                Strict,
              ),
            ),
          },
          Strict,
        ),
        response: {
          201: Type.Object({
            principalId: Type.String(),
            identityId: Type.Optional(Type.String()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { identity, principalId, ...rest } = request.body;
      const result = await run(
        request,
        reply,
        registerPrincipal({
          ...rest,
          principalId: principalId ?? newId(),
          idChosen: principalId !== undefined,
          ...(identity ? { identity: { ...identity, identityId: newId() } } : {}),
        }),
      );
      reply.header('location', `/v1/principals/${result.principalId}`);
      return reply.status(201).send(result);
    },
  );

  app.patch(
    '/principals/:id',
    {
      bodyLimit: 8 * 1024,
      schema: {
        summary: 'Change names, email or phone (null clears)',
        tags: ['principals'],
        params: IdParams,
        body: Type.Object(
          {
            briefName: Type.Optional(Type.String({ maxLength: 1000 })),
            fullName: Type.Optional(Type.String({ maxLength: 1000 })),
            email: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
            phone: Type.Optional(Nullable(Type.String({ maxLength: 100 }))),
          },
          { ...Strict, minProperties: 1 },
        ),
        response: { 200: Type.Object({ changed: Type.Array(Type.String()) }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const before = getPrincipal(app.node.read, request.params.id);
      const result = await run(
        request,
        reply,
        changeProfile({ principalId: request.params.id, ...request.body }),
      );
      // The address that stops receiving resets hears of it (src/authn/outbox.ts).
      const outboxDir = app.sessions.settings.outboxDir;
      if (result.changed.includes('email') && before?.email && outboxDir !== null)
        // The change is made: a mail that cannot be written is logged, not a failed request.
        await fileOutbox(outboxDir)
          .send(emailChangedNotice(before.email))
          .catch((err: unknown) => request.log.error({ err }, 'email-changed notice not written'));
      return result;
    },
  );

  app.post(
    '/principals/:id/deactivate',
    {
      bodyLimit: 4 * 1024,
      schema: {
        summary: 'Deactivate a principal (it can no longer authenticate)',
        tags: ['principals'],
        params: IdParams,
        body: Type.Optional(
          Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, Strict),
        ),
        response: { 200: Type.Object({ active: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(
        request,
        reply,
        deactivatePrincipal({
          principalId: request.params.id,
          ...(request.body.reason ? { reason: request.body.reason } : {}),
        }),
      ),
  );

  app.post(
    '/principals/:id/activate',
    {
      bodyLimit: 1024,
      schema: {
        summary: 'Activate a deactivated principal',
        tags: ['principals'],
        params: IdParams,
        response: { 200: Type.Object({ active: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(request, reply, activatePrincipal({ principalId: request.params.id })),
  );

  app.delete(
    '/principals/:id',
    {
      bodyLimit: 1024,
      schema: {
        summary: 'Delete a principal, for good',
        tags: ['principals'],
        params: IdParams,
        response: { 200: Type.Object({ deleted: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(request, reply, deletePrincipal({ principalId: request.params.id })),
  );

  app.post(
    '/principals/:id/identities',
    {
      bodyLimit: 4 * 1024,
      schema: {
        summary: 'Add an identity (a name in a directory) to a principal',
        tags: ['identities'],
        params: IdParams,
        body: Type.Object(
          { name: Type.String({ maxLength: 1000 }), directoryId: Type.Optional(Id) },
          Strict,
        ),
        response: { 201: Type.Object({ identityId: Type.String() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const result = await run(
        request,
        reply,
        addIdentity({ identityId: newId(), principalId: request.params.id, ...request.body }),
      );
      return reply.status(201).send(result);
    },
  );

  app.get(
    '/identities/:id',
    {
      schema: {
        summary: 'An identity',
        tags: ['identities'],
        params: IdParams,
        response: { 200: IdentitySchema, ...errorResponses },
      },
    },
    async (request) => {
      const who = readerOf(request);
      const i = getIdentity(app.node.read, request.params.id);
      // Someone else's identity, or none: the same refusal, so it tells nothing.
      if (i?.principalId !== who.actor) requireRead(app.node.authz, who, READ_PRINCIPALS);
      if (!i) throw new AppError('IDENTITY_NOT_FOUND', `no identity ${request.params.id}`);
      return i;
    },
  );

  app.delete(
    '/identities/:id',
    {
      bodyLimit: 1024,
      schema: {
        summary: 'Remove an identity',
        tags: ['identities'],
        params: IdParams,
        response: { 200: Type.Object({ removed: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(request, reply, removeIdentity({ identityId: request.params.id })),
  );
};
