// What the session commands share: their settings, their answer, the recorded refusal, and the
// caller's own live session.
import { principalUsable } from '../../../projections/principals.ts';
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
