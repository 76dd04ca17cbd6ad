// Client certificate credentials over HTTP (src/authn/certificates.ts): register one for a
// principal (a pin of the certificate's SHA-256, or a subject or subjectAltName rule, and the CA
// it must chain to), list a principal's, and deny a certificate by fingerprint to everyone.
// Revoking one principal's credential is DELETE /v1/credentials/:id, like any credential.
import { Type } from '@sinclair/typebox';
import {
  listCertificates,
  registerCertificate,
  revokeCertificateFingerprint,
} from '../../authn/certificates.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { newId } from '../../node/node.ts';
import { run } from '../command.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Id, Nullable, Strict } from '../schemas.ts';
import type { App } from '../types.ts';

const IdParams = Type.Object({ id: Id }, Strict);
const Pem = Type.String({ maxLength: 16 * 1024, description: 'one X.509 certificate in PEM' });
const Sha256 = Type.String({
  maxLength: 100,
  description: 'SHA-256 fingerprint: 64 hex digits (colons and upper case allowed)',
});

const Match = Type.Union([
  Type.Object({ kind: Type.Literal('fingerprint'), sha256: Type.String() }),
  Type.Object({ kind: Type.Literal('subject'), subject: Type.String() }),
  Type.Object({ kind: Type.Literal('san'), san: Type.String() }),
]);

const CertificateSchema = Type.Object({
  credentialId: Type.String(),
  name: Type.String(),
  directoryId: Type.String(),
  match: Match,
  issuerCaSha256: Nullable(Type.String()),
  createdAt: Type.String(),
  validUntil: Nullable(Type.String()),
  revoked: Type.Boolean(),
});

export const certificateRoutes = async (app: App) => {
  app.post(
    '/principals/:id/certificates',
    {
      // Two PEM certificates fit.
      bodyLimit: 40 * 1024,
      schema: {
        summary: 'Register a client certificate (or a subject or SAN rule) as trust evidence',
        description:
          'Exactly one of `pem` (the client certificate, pinned by its SHA-256), `subject` (as node:crypto prints it, one attribute=value per line) or `san` (`email:…`, `DNS:…` or `URI:…`); `caPem` or `caSha256` pins the CA it must chain to (default: any of the node client CAs). The same rights as enrolling OTP: the principal itself or a manager dominating it, elevated.',
        tags: ['credentials'],
        params: IdParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            pem: Type.Optional(Pem),
            subject: Type.Optional(Type.String({ maxLength: 1024 })),
            san: Type.Optional(Type.String({ maxLength: 1024 })),
            caPem: Type.Optional(Pem),
            caSha256: Type.Optional(Sha256),
            validUntil: Type.Optional(Type.String({ maxLength: 30, description: 'ISO 8601 UTC' })),
          },
          Strict,
        ),
        response: {
          201: Type.Object({
            credentialId: Type.String(),
            match: Match,
            issuerCaSha256: Nullable(Type.String()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const result = await run(
        request,
        reply,
        registerCertificate({
          credentialId: newId(),
          principalId: request.params.id,
          ...request.body,
        }),
      );
      return reply.status(201).send(result);
    },
  );

  app.get(
    '/principals/:id/certificates',
    {
      schema: {
        summary: "A principal's certificate credentials: their rules and CA pins (public data)",
        tags: ['credentials'],
        params: IdParams,
        response: {
          200: Type.Object({ items: Type.Array(CertificateSchema) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS, request.params.id);
      return { items: listCertificates(app.node.read, request.params.id) };
    },
  );

  app.post(
    '/certificates/revoked',
    {
      bodyLimit: 24 * 1024,
      schema: {
        summary: 'Deny a certificate (or a CA and all it signed) by SHA-256, to every principal',
        description:
          '`sha256` or `pem`. Administrators (authlog.admin), elevated: it can lock anyone out. Replicated (CertificateFingerprintRevoked) and final.',
        tags: ['credentials'],
        body: Type.Object(
          {
            sha256: Type.Optional(Sha256),
            pem: Type.Optional(Pem),
            reason: Type.Optional(Type.String({ maxLength: 200 })),
          },
          Strict,
        ),
        response: {
          200: Type.Object({ sha256: Type.String(), revoked: Type.Boolean() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => run(request, reply, revokeCertificateFingerprint(request.body)),
  );
};
