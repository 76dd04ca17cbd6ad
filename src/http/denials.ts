// Denied operations in the audit trail. Every refusal for lack of privilege (code FORBIDDEN:
// `requireAccess` in administrative commands, privilege checks in routes) passes through the
// HTTP error path, so one hook there records it as an `AccessDenied` event: the actor, the
// operation (method and route pattern), the privilege it lacked, the id it targeted
// (OWASP ASVS 7.2.2: log access control failures). Limited per actor, so a client hammering a
// route it may not use cannot flood the log: beyond `perWindow` denials per window, they are
// counted and the count rides on the actor's next recorded denial (`suppressed`).
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { recordAccessDenied } from '../accounting/commands.ts';
import { AppError } from '../errors.ts';
import { SYSTEM_ACTOR } from '../events/envelope.ts';
import { clientIp } from './proxy.ts';
import { Id } from './schemas.ts';

export type DenialLimiter = {
  /** Whether to record this denial, and how many of the actor's were dropped before it. */
  admit(actor: string, now: number): { readonly record: boolean; readonly suppressed: number };
};

export type DenialLimits = {
  readonly perWindow?: number;
  readonly windowMs?: number;
  /** Actors remembered at most (least recently denied forgotten first). */
  readonly maxActors?: number;
};

export const createDenialLimiter = (limits: DenialLimits = {}): DenialLimiter => {
  const perWindow = limits.perWindow ?? 10;
  const windowMs = limits.windowMs ?? 60_000;
  const maxActors = limits.maxActors ?? 10_000;
  const actors = new Map<string, { start: number; count: number; suppressed: number }>();
  return {
    admit(actor, now) {
      let a = actors.get(actor);
      if (a) actors.delete(actor);
      else a = { start: now, count: 0, suppressed: 0 };
      actors.set(actor, a); // most recently used last
      if (actors.size > maxActors) actors.delete(actors.keys().next().value as string);
      if (now - a.start >= windowMs) {
        a.start = now;
        a.count = 0;
      }
      if (a.count >= perWindow) {
        a.suppressed += 1;
        return { record: false, suppressed: 0 };
      }
      a.count += 1;
      const suppressed = a.suppressed;
      a.suppressed = 0;
      return { record: true, suppressed };
    },
  };
};

const targetOf = (request: FastifyRequest): string | undefined => {
  const params = request.params as Record<string, unknown> | undefined;
  const id = params?.id;
  return typeof id === 'string' && Value.Check(Id, id) ? id : undefined;
};

/** Records FORBIDDEN answers of authenticated requests as AccessDenied events. */
export const registerDenialAudit = (app: FastifyInstance, limits: DenialLimits = {}): void => {
  const limiter = createDenialLimiter(limits);
  app.addHook('onError', async (request, _reply, error) => {
    if (!(error instanceof AppError) || error.code !== 'FORBIDDEN') return;
    const auth = request.auth;
    if (!auth || auth.actor === SYSTEM_ACTOR) return;
    const { record, suppressed } = limiter.admit(auth.actor, Date.now());
    if (!record) return;
    const privilege = error.extensions?.privilege;
    const targetId = targetOf(request);
    try {
      await app.node.execute(
        recordAccessDenied({
          operation:
            `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`.slice(
              0,
              200,
            ),
          privilege: typeof privilege === 'string' ? privilege.slice(0, 200) : null,
          ...(targetId !== undefined ? { targetId } : {}),
          suppressed,
        }),
        {
          actor: auth.actor,
          via: auth.via,
          correlationId: request.id,
          ip: clientIp(request),
          ...(request.headers['user-agent']
            ? { userAgent: request.headers['user-agent'].slice(0, 512) }
            : {}),
        },
      );
    } catch (err) {
      // The refusal stands either way; a node that cannot write says so in its own log.
      request.log.warn({ err }, 'could not record an access denial');
    }
  });
};
