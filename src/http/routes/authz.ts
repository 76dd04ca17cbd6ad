// Authorization over HTTP: the check API (single and batch), object listing, and the
// administration of privileges, resource types, role directories, roles, grants and members.

import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { getRole, grantsOf, listRoles, membersOf } from '../../../projections/authz.ts';
import type { CheckInput } from '../../../projections/authz-engine.ts';
import { heldEvidences } from '../../authn/evidence.ts';
import { liveSession } from '../../authn/sessions/views.ts';
import {
  addRoleMember,
  createRole,
  definePrivilege,
  defineResourceType,
  defineRoleDirectory,
  deleteRole,
  removeRoleMember,
  setGrant,
  updateRole,
} from '../../authz/commands.ts';
import { CHECK_ANY, READ_ROLES, requireRead } from '../../authz/reads.ts';
import { AppError } from '../../errors.ts';
import { ExternalRoles } from '../../events/catalogue.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { clientIp } from '../proxy.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, GrantSchema, Id, Nullable, RoleSchema, Strict } from '../schemas.ts';
import type { App } from '../types.ts';

const Name = Type.String({ minLength: 1, maxLength: 100 });
const Action = Type.String({ minLength: 1, maxLength: 50 });
const ObjectId = Type.String({ minLength: 1, maxLength: 200 });
const EffectSchema = Type.Union([
  Type.Literal('grant'),
  Type.Literal('inherit'),
  Type.Literal('revoke'),
]);
const EvidenceSchema = Type.Union(
  ['knowledge', 'ownership', 'location', 'trust', 'inherence'].map((e) => Type.Literal(e)),
);

// The subject: a principal (every membership counts), or a session (memberships of role
// directories requiring evidence count only while the session holds it, each evidence until its
// own expiry). Exactly one of `principalId` and `sessionId`.
const Subject = {
  principalId: Type.Optional(Id),
  sessionId: Type.Optional(Id),
};
const CheckBody = Type.Union([
  Type.Object({ ...Subject, privilege: Name }, Strict),
  Type.Object(
    { ...Subject, resourceType: Name, action: Action, objectId: Type.Optional(ObjectId) },
    Strict,
  ),
]);
const CheckAnswer = Type.Object({
  allow: Type.Boolean(),
  reason: Type.String(),
  role: Type.Optional(Type.String()),
  grantedBy: Type.Optional(Type.String()),
  missingEvidences: Type.Optional(Type.Array(Type.String())),
});
const RoleParams = Type.Object({ id: Id }, Strict);

type CheckBodyT = { principalId?: string; sessionId?: string } & (
  | { privilege: string }
  | { resourceType: string; action: string; objectId?: string }
);

/**
 * Where the session a check names is now, for its location evidence: known only when the check
 * comes with that very session (its own request's address); asked by anyone else (a service on
 * the session's behalf), authlog cannot see where the session's holder is, so location does not
 * count and a role directory requiring it answers `missingEvidences: ['location']`. Trusting the
 * last address the session was seen at would let a token stolen off-network pass at every other
 * service, and answer differently at each node (NIST SP 800-63B rev 4 section 7; ASVS 5.0 V7).
 */
const whereIs = (request: FastifyRequest, sessionId: string): string | undefined =>
  request.auth?.credential === 'session' && request.auth.via === sessionId
    ? clientIp(request)
    : undefined;

const subjectOf = (app: App, b: CheckBodyT, request: FastifyRequest): CheckInput['subject'] => {
  if ((b.principalId === undefined) === (b.sessionId === undefined))
    throw new AppError('VALIDATION_FAILED', 'name exactly one of principalId and sessionId', {
      field: 'principalId',
    });
  // What someone else may do is theirs to know, or a resource server's (src/authz/reads.ts): asked
  // before the session is looked up, so the answer tells nothing of sessions one may not ask about.
  if (b.principalId !== undefined) {
    requireRead(app.node.authz, readerOf(request), CHECK_ANY, b.principalId);
    return { principalId: b.principalId };
  }
  if (request.auth?.via !== b.sessionId) requireRead(app.node.authz, readerOf(request), CHECK_ANY);
  const session = liveSession(
    app.node.read,
    b.sessionId!,
    Date.now(),
    app.sessions.activity,
    whereIs(request, b.sessionId!),
  );
  if (!session)
    throw new AppError('SESSION_NOT_FOUND', `no live session ${b.sessionId}`, {
      field: 'sessionId',
    });
  return {
    principalId: session.principalId,
    evidences: heldEvidences(session.evidences),
  };
};

const toInput = (app: App, b: CheckBodyT, request: FastifyRequest): CheckInput => {
  const subject = subjectOf(app, b, request);
  if ('privilege' in b) return { subject, privilege: b.privilege };
  // Two literals rather than a conditional spread, which V8 copies through a slow generic path.
  return b.objectId === undefined
    ? { subject, resourceType: b.resourceType, action: b.action }
    : { subject, resourceType: b.resourceType, action: b.action, objectId: b.objectId };
};

export const authzRoutes = async (app: App) => {
  // The check routes answer synchronously (fastify sends a plain return value, and a throw is a
  // refusal): the check is a cached lookup, and a promise per request cost more than it.
  app.post(
    '/authz/check',
    { schema: { body: CheckBody, response: { 200: CheckAnswer, ...errorResponses } } },
    (request) => app.node.authz.check(toInput(app, request.body, request)),
  );

  app.post(
    '/authz/check/batch',
    {
      schema: {
        body: Type.Object(
          { checks: Type.Array(CheckBody, { minItems: 1, maxItems: 1000 }) },
          Strict,
        ),
        response: { 200: Type.Object({ results: Type.Array(CheckAnswer) }), ...errorResponses },
      },
    },
    (request) => ({
      results: request.body.checks.map((c) => app.node.authz.check(toInput(app, c, request))),
    }),
  );

  app.get(
    '/authz/objects',
    {
      schema: {
        querystring: Type.Object({ principalId: Id, resourceType: Name, action: Action }, Strict),
        response: {
          200: Type.Union([
            Type.Object({ all: Type.Literal(true), role: Type.String() }),
            Type.Object({ all: Type.Literal(false), ids: Type.Array(Type.String()) }),
          ]),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { principalId, resourceType, action } = request.query;
      requireRead(app.node.authz, readerOf(request), CHECK_ANY, principalId);
      return app.node.authz.objects({ principalId }, resourceType, action);
    },
  );

  app.post(
    '/privileges',
    {
      schema: {
        body: Type.Object(
          { privilege: Name, description: Type.Optional(Type.String({ maxLength: 4000 })) },
          Strict,
        ),
        response: { 200: Type.Object({ privilege: Type.String() }), ...errorResponses },
      },
    },
    async (request, reply) => run(request, reply, definePrivilege(request.body)),
  );

  app.post(
    '/resource-types',
    {
      schema: {
        body: Type.Object(
          {
            resourceType: Name,
            actions: Type.Optional(Type.Array(Action, { minItems: 1, maxItems: 64 })),
          },
          Strict,
        ),
        response: {
          200: Type.Object({ resourceType: Type.String(), actions: Type.Array(Type.String()) }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => run(request, reply, defineResourceType(request.body)),
  );

  app.post(
    '/role-directories',
    {
      schema: {
        body: Type.Object(
          {
            directoryId: Type.Optional(Id),
            name: Name,
            requiredEvidences: Type.Optional(Type.Array(EvidenceSchema, { maxItems: 5 })),
            phishingResistant: Type.Optional(
              Type.Boolean({
                description:
                  'memberships count only in sessions holding evidence of a passkey or a client certificate',
              }),
            ),
            external: Type.Optional(Type.Object(ExternalRoles.properties, Strict)),
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
        defineRoleDirectory({
          ...request.body,
          directoryId: request.body.directoryId ?? newId(),
          idChosen: request.body.directoryId !== undefined,
        }),
      );
      return reply.status(201).send(result);
    },
  );

  app.get(
    '/roles',
    {
      schema: {
        response: { 200: Type.Object({ items: Type.Array(RoleSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_ROLES);
      return { items: listRoles(app.node.read) };
    },
  );

  app.get(
    '/roles/:id',
    {
      schema: {
        params: RoleParams,
        response: {
          200: Type.Composite([
            RoleSchema,
            Type.Object({ grants: Type.Array(GrantSchema), members: Type.Array(Type.String()) }),
          ]),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_ROLES);
      const role = getRole(app.node.read, request.params.id);
      if (!role) throw new AppError('ROLE_NOT_FOUND', `no role ${request.params.id}`);
      return {
        ...role,
        grants: grantsOf(app.node.read, role.id),
        members: membersOf(app.node.read, role.id),
      };
    },
  );

  app.post(
    '/roles',
    {
      schema: {
        body: Type.Object(
          {
            roleId: Type.Optional(Id),
            name: Name,
            directoryId: Type.Optional(Id),
            parentId: Type.Optional(Nullable(Id)),
          },
          Strict,
        ),
        response: { 201: Type.Object({ roleId: Type.String() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const result = await run(
        request,
        reply,
        createRole({
          ...request.body,
          roleId: request.body.roleId ?? newId(),
          idChosen: request.body.roleId !== undefined,
        }),
      );
      return reply.status(201).send(result);
    },
  );

  app.patch(
    '/roles/:id',
    {
      schema: {
        params: RoleParams,
        body: Type.Object(
          { name: Type.Optional(Name), parentId: Type.Optional(Nullable(Id)) },
          { ...Strict, minProperties: 1 },
        ),
        response: { 200: Type.Object({ changed: Type.Array(Type.String()) }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(request, reply, updateRole({ roleId: request.params.id, ...request.body })),
  );

  app.delete(
    '/roles/:id',
    {
      schema: {
        params: RoleParams,
        response: { 200: Type.Object({ deleted: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) => run(request, reply, deleteRole({ roleId: request.params.id })),
  );

  app.put(
    '/roles/:id/grants',
    {
      schema: {
        params: RoleParams,
        body: Type.Union([
          Type.Object({ privilege: Name, effect: EffectSchema }, Strict),
          Type.Object(
            {
              resourceType: Name,
              action: Action,
              objectId: Type.Optional(ObjectId),
              effect: EffectSchema,
            },
            Strict,
          ),
        ]),
        response: { 200: Type.Object({ effect: EffectSchema }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(request, reply, setGrant({ roleId: request.params.id, ...request.body })),
  );

  app.post(
    '/roles/:id/members',
    {
      schema: {
        params: RoleParams,
        body: Type.Object({ principalId: Id }, Strict),
        response: { 200: Type.Object({ member: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(
        request,
        reply,
        addRoleMember({ roleId: request.params.id, principalId: request.body.principalId }),
      ),
  );

  app.delete(
    '/roles/:id/members/:principalId',
    {
      schema: {
        params: Type.Object({ id: Id, principalId: Id }, Strict),
        response: { 200: Type.Object({ member: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(
        request,
        reply,
        removeRoleMember({ roleId: request.params.id, principalId: request.params.principalId }),
      ),
  );
};
