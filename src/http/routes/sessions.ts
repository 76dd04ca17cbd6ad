// Sessions over HTTP: the caller's own (the current one, all of them, ending one or all) and, for
// administrators, a principal's (listing, force log-off). Queries and commands in
// src/authn/sessions/ (views.ts, end.ts).
import { Type } from '@sinclair/typebox';
import { endSession, endSessionsOf } from '../../authn/sessions/end.ts';
import { sessionsOf } from '../../authn/sessions/views.ts';
import { READ_PRINCIPALS, requireRead } from '../../authz/reads.ts';
import { run } from '../command.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Strict } from '../schemas.ts';
import { clearSessionCookies, ownSession } from '../sessions.ts';
import type { App } from '../types.ts';
import { IdParams, publicView, SessionSchema } from './auth-schemas.ts';

export const sessionRoutes = async (app: App) => {
  app.get(
    '/auth/session',
    {
      config: { incompleteSession: true, cacheControl: 'no-store' },
      schema: {
        summary: "The caller's session: its evidences, what it lacks, its elevation",
        tags: ['authentication'],
        response: { 200: SessionSchema, ...errorResponses },
      },
    },
    async (request) => publicView(ownSession(request)),
  );

  app.get(
    '/auth/sessions',
    {
      config: { cacheControl: 'no-store' },
      schema: {
        summary: "The caller's sessions that still work",
        tags: ['authentication'],
        response: { 200: Type.Object({ items: Type.Array(SessionSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const actor = request.auth?.actor ?? 'anonymous';
      return {
        items: sessionsOf(app.node.read, actor, Date.now(), app.sessions.activity).map(publicView),
      };
    },
  );

  app.delete(
    '/auth/sessions/:id',
    {
      schema: {
        summary: 'End a session: your own, or (administrators, elevated) anyone’s',
        tags: ['authentication'],
        params: IdParams,
        response: { 200: Type.Object({ ended: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const result = await run(request, reply, endSession({ sessionId: request.params.id }));
      if (request.params.id === request.auth?.via) clearSessionCookies(reply);
      return result;
    },
  );

  app.post(
    '/auth/sessions/end-all',
    {
      schema: {
        summary: "End all the caller's sessions, optionally but the current one",
        tags: ['authentication'],
        body: Type.Object({ keepCurrent: Type.Boolean({ default: false }) }, Strict),
        response: { 200: Type.Object({ ended: Type.Integer() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const actor = request.auth?.actor ?? 'anonymous';
      const keep = request.body.keepCurrent && request.auth?.credential === 'session';
      const result = await run(
        request,
        reply,
        endSessionsOf({
          principalId: actor,
          ...(keep && request.auth ? { exceptSessionId: request.auth.via } : {}),
        }),
      );
      if (!keep) clearSessionCookies(reply);
      return result;
    },
  );

  app.get(
    '/principals/:id/sessions',
    {
      config: { cacheControl: 'no-store' },
      schema: {
        summary: "A principal's sessions that still work (administrators)",
        tags: ['authentication'],
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(SessionSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_PRINCIPALS, request.params.id);
      return {
        items: sessionsOf(app.node.read, request.params.id, Date.now(), app.sessions.activity).map(
          publicView,
        ),
      };
    },
  );

  app.post(
    '/principals/:id/sessions/end',
    {
      schema: {
        summary: 'Force log-off: end every session of a principal (administrators, elevated)',
        tags: ['authentication'],
        params: IdParams,
        response: { 200: Type.Object({ ended: Type.Integer() }), ...errorResponses },
      },
    },
    async (request, reply) =>
      run(request, reply, endSessionsOf({ principalId: request.params.id })),
  );
};
