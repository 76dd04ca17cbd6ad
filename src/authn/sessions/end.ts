// Ending sessions (logout, force log-off, ended by a password change) and recording activity for
// other sites.
import { getPrincipal } from '../../../projections/principals.ts';
import { getSessionRecord, openSessionsOf } from '../../../projections/sessions.ts';
import { requirePrivilege } from '../../authz/admin.ts';
import { requireDominates } from '../../authz/conferral.ts';
import { requireElevation } from '../../authz/elevation.ts';
import { AppError } from '../../errors.ts';
import type { EventPayload } from '../../events/catalogue.ts';
import type { Authority, Command, CommandMeta } from '../../node/command.ts';
import type { Reader } from '../../readmodel/projection.ts';
import { MANAGE_PRINCIPALS } from '../principals.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

type EndReason = EventPayload<'SessionEnded'>['reason'];

/** Ending someone else's session is an administrator's force log-off: privilege and elevation. */
const mayEnd = (state: Reader, meta: CommandMeta, principalId: string): Authority => {
  if (meta.actor === principalId) return [];
  const manage = requirePrivilege(state, meta, MANAGE_PRINCIPALS);
  requireElevation(meta);
  // Logging someone off at will is a lock-out: only of principals the actor could act as.
  return [...manage, ...requireDominates(state, meta, principalId)];
};

export const endSession = (input: {
  sessionId: string;
  reason?: EndReason;
}): Command<{ ended: boolean }> => ({
  name: 'EndSession',
  decide(state, meta) {
    const r = getSessionRecord(state, input.sessionId);
    if (!r) throw new AppError('SESSION_NOT_FOUND', `no session ${input.sessionId}`);
    const { principalId } = r;
    // Someone else's session is not even confirmed to exist without the privilege.
    let authority: Authority = [];
    if (meta.actor !== principalId) {
      try {
        authority = mayEnd(state, meta, principalId);
      } catch (err) {
        if (err instanceof AppError && err.code === 'FORBIDDEN')
          throw new AppError('SESSION_NOT_FOUND', `no session ${input.sessionId}`);
        throw err;
      }
    }
    if (r.ended) return { events: [], result: { ended: true } };
    const reason = input.reason ?? (meta.actor === principalId ? 'logout' : 'revoked');
    return {
      events: [{ type: 'SessionEnded', data: { sessionId: input.sessionId, reason } }],
      result: { ended: true },
      authority,
    };
  },
});

export const endSessionsOf = (input: {
  principalId: string;
  exceptSessionId?: string;
  reason?: EndReason;
}): Command<{ ended: number }> => ({
  name: 'EndSessions',
  decide(state, meta) {
    const p = getPrincipal(state, input.principalId);
    if (!p) throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${input.principalId}`);
    const authority = mayEnd(state, meta, p.id);
    const reason = input.reason ?? (meta.actor === p.id ? 'logout' : 'revoked');
    const ids = openSessionsOf(state, p.id).filter((id) => id !== input.exceptSessionId);
    return {
      events: ids.map(
        (sessionId) => ({ type: 'SessionEnded', data: { sessionId, reason } }) as const,
      ),
      result: { ended: ids.length },
      authority,
    };
  },
});

/** Records activity for other sites, at most every `touchIntervalS` (the caller rate-limits). */
export const touchSession = (input: {
  sessionId: string;
  at: number;
}): Command<{ touched: boolean }> => ({
  name: 'TouchSession',
  decide(state) {
    const r = getSessionRecord(state, input.sessionId);
    if (!r || r.ended || Date.parse(r.touchedAt) >= input.at)
      return { events: [], result: { touched: false } };
    return {
      events: [{ type: 'SessionTouched', data: { sessionId: input.sessionId, at: iso(input.at) } }],
      result: { touched: true },
    };
  },
});
