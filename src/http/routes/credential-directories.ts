// Credential directories over HTTP: kinds of credential and the evidences they provide
// (src/authn/credentials.ts).
import { Type } from '@sinclair/typebox';
import { ADMIN_PRIVILEGE } from '../../../projections/authz-engine.ts';
import { oidcSettingsOf } from '../../../projections/external-accounts.ts';
import {
  changeCredentialDirectory,
  defineCredentialDirectory,
  listCredentialDirectories,
} from '../../authn/credentials.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { AppError } from '../../errors.ts';
import { LdapSettings, OidcSettings } from '../../events/catalogue.ts';
import { run } from '../command.ts';
import { authRouteConfig } from '../rate-limit.ts';
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
  ldap: Type.Optional(LdapSettings),
  oidc: Type.Optional(OidcSettings),
});

/** What a client sends for an `ldap` directory: the flavor's defaults fill the rest
 * (src/authn/credentials.ts `ldapSettings`). */
const LdapBody = Type.Object(
  {
    ...Type.Partial(Type.Omit(LdapSettings, ['attributes'])).properties,
    attributes: Type.Optional(Type.Partial(LdapSettings.properties.attributes, Strict)),
  },
  Strict,
);

/** What a client sends for an `oidc` directory: the flavor's preset fills the rest
 * (src/authn/oidc-settings.ts). No client secret: that is per node, from its environment. */
const OidcBody = Type.Object(
  {
    ...Type.Partial(Type.Omit(OidcSettings, ['endpoints'])).properties,
    endpoints: Type.Optional(
      Type.Union([Type.Partial(OidcSettings.properties.endpoints.anyOf[0], Strict), Type.Null()]),
    ),
  },
  Strict,
);

const ProbeStep = Type.Object({ step: Type.String(), ok: Type.Boolean(), detail: Type.String() });

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
      const read = app.node.read;
      return {
        items: listCredentialDirectories(read).map((d) => {
          const oidc = d.kind === 'oidc' ? oidcSettingsOf(read, d.id) : undefined;
          return oidc === undefined ? d : { ...d, oidc };
        }),
      };
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
              ['password', 'otp', 'subnet', 'gateway', 'token', 'ldap', 'oidc'].map((k) =>
                Type.Literal(k),
              ),
            ),
            ldap: Type.Optional(LdapBody),
            oidc: Type.Optional(OidcBody),
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
            ldap: Type.Optional(LdapBody),
            oidc: Type.Optional(OidcBody),
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

  // Keycloak's "test connection / test authentication": each step, what failed and why. Binding
  // with a user's password here would be a guessing oracle that records no failure, so only an
  // administrator may, and the route is throttled like a login.
  app.post(
    '/credential-directories/:id/test',
    {
      schema: {
        summary: 'Test an LDAP directory from this node: connect, service bind, search, user bind',
        tags: ['authentication'],
        params: IdParams,
        body: Type.Object(
          {
            identity: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
          },
          Strict,
        ),
        response: {
          200: Type.Object({ ok: Type.Boolean(), steps: Type.Array(ProbeStep) }),
          ...errorResponses,
        },
      },
      config: { ...authRouteConfig },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), ADMIN_PRIVILEGE);
      const ldap = app.directories?.directory(app.node.read, request.params.id);
      if (ldap === undefined)
        throw new AppError(
          'CREDENTIAL_DIRECTORY_NOT_FOUND',
          `no ldap directory ${request.params.id} on this node`,
        );
      const steps = await ldap.probe(request.body.identity, request.body.password);
      return { ok: steps.length > 0 && steps.every((s) => s.ok), steps };
    },
  );
};
