// Schemas the authentication route files share: evidences, passwords, OTPs, sessions.
import { Type } from '@sinclair/typebox';
import type { SessionView } from '../../authn/sessions/views.ts';
import { Id, Nullable, Strict } from '../schemas.ts';

export const EvidenceName = Type.Union([
  Type.Literal('knowledge'),
  Type.Literal('ownership'),
  Type.Literal('location'),
  Type.Literal('trust'),
  Type.Literal('inherence'),
]);
export const Password = Type.String({ minLength: 1, maxLength: 4096 });
export const Otp = Type.String({ minLength: 6, maxLength: 10, pattern: '^[0-9]+$' });
/** A recovery code as printed (`xxxx-xxxx-xxxx`); spaces, dashes and case are ignored. */
export const RecoveryCode = Type.String({ minLength: 1, maxLength: 64 });
export const IdParams = Type.Object({ id: Id }, Strict);

const EvidenceSchema = Type.Object({
  evidence: Type.String(),
  method: Type.String(),
  credentialId: Type.String(),
  at: Type.String(),
  expiresAt: Type.String(),
});
export const SessionSchema = Type.Object({
  sessionId: Type.String(),
  principalId: Type.String(),
  transport: Type.String(),
  startedAt: Type.String(),
  expiresAt: Type.String(),
  lastSeenAt: Type.String(),
  evidences: Type.Array(EvidenceSchema),
  complete: Type.Boolean(),
  missing: Type.Array(Type.String()),
  elevatedUntil: Nullable(Type.String()),
});
export const SessionWithToken = Type.Composite([
  SessionSchema,
  Type.Object({
    token: Type.Optional(
      Type.String({ description: 'the session token, for `transport: bearer` only: shown once' }),
    ),
    deviceToken: Type.Optional(
      Type.String({
        description:
          'a device token, for `transport: bearer` logins only: send it back as `Authlog-Device` (login, Basic) and this client is a known device (a lockout others caused does not stop it)',
      }),
    ),
  }),
]);

/** A session as a client sees it. */
export const publicView = (s: SessionView) => ({
  sessionId: s.sessionId,
  principalId: s.principalId,
  transport: s.transport,
  startedAt: s.startedAt,
  expiresAt: s.expiresAt,
  lastSeenAt: s.lastSeenAt,
  evidences: s.evidences,
  complete: s.complete,
  missing: s.missing,
  elevatedUntil: s.elevatedUntil,
});
