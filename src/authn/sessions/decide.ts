// What the session commands share: their settings, their answer, the recorded refusal, and the
// caller's own live session.
import { getSessionRecord } from '../../../projections/sessions.ts';
import { AppError } from '../../errors.ts';
import type { DomainEvent } from '../../events/catalogue.ts';
import type { CommandMeta } from '../../node/command.ts';
import type { Reader } from '../../readmodel/projection.ts';
import type { AuthConfig } from '../auth-config.ts';
import { type Failure, failureEvents } from '../lockout.ts';
import type { SessionView } from './views.ts';

export type AuthSettings = Pick<
  AuthConfig,
  | 'idleTimeoutS'
  | 'absoluteTimeoutS'
  | 'elevationS'
  | 'lockoutThreshold'
  | 'lockoutBaseS'
  | 'lockoutMaxS'
>;

export type StepResult =
  | { readonly ok: true; readonly session: SessionView }
  | { readonly ok: false; readonly reason: string };

export const refuse = (
  state: Reader,
  failure: Failure,
  now: number,
  settings: AuthSettings,
  extra: readonly DomainEvent[] = [],
): { events: DomainEvent[]; result: StepResult } => ({
  events: [...extra, ...failureEvents(state, failure, now, settings)],
  result: { ok: false, reason: failure.reason },
});

/** Active and not deleted (every login step asks: two columns, not the principal's view). */
export const principalUsable = (state: Reader, principalId: string): boolean =>
  state.get(
    'SELECT 1 AS usable FROM principals WHERE id = ? AND active = 1 AND deleted = 0',
    principalId,
  ) !== undefined;

export const ownLiveSession = (
  state: Reader,
  meta: CommandMeta,
  sessionId: string,
  now: number,
) => {
  const r = getSessionRecord(state, sessionId);
  if (
    !r ||
    r.principalId !== meta.actor ||
    r.ended ||
    Date.parse(r.expiresAt) <= now ||
    !principalUsable(state, meta.actor)
  )
    throw new AppError('UNAUTHENTICATED', 'the session has ended');
  return r.principalId;
};
