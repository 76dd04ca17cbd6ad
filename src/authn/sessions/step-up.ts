// Adding evidence to the caller's own session (an OTP after the password) and elevating it (sudo
// mode): both need the session live and the principal not locked out (a known device passes a
// lockout others caused), and both rotate the token.
import { getSessionRecord } from '../../../projections/sessions.ts';
import { AppError } from '../../errors.ts';
import type { DomainEvent } from '../../events/catalogue.ts';
import type { Command, CommandMeta } from '../../node/command.ts';
import type { Reader } from '../../readmodel/projection.ts';
import type { EvidenceProvider, Presented, Proof } from '../evidence.ts';
import { type Failure, isLockedOut, trustedDevice } from '../lockout.ts';
import { elevationLacks, requiredEvidences } from '../policy.ts';
import { type AuthSettings, ownLiveSession, refuse, type StepResult } from './decide.ts';
import { evidencesOf, gather, type Prepared, sessionCredentialDirectories } from './evidence.ts';
import { type EvidenceView, getSession } from './views.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

export type StepInput = {
  readonly sessionId: string;
  /** The rotated token's hash. */
  readonly tokenHash: string;
  readonly presented: Presented;
  readonly ip: string | undefined;
  readonly prepared: Prepared;
  readonly providers: readonly EvidenceProvider<unknown>[];
  readonly settings: AuthSettings;
  /** A device that logged in to this principal before, verified by the caller (lockout.ts). */
  readonly device?: string | undefined;
};
/**
 * What adding evidence and elevating share: the caller's own live session, not locked out, and
 * the providers' proofs under the session's credential-directory tie — or the refusal (recorded
 * as a failure, counting towards lockout).
 */
const sessionStep = (
  state: Reader,
  meta: CommandMeta,
  input: StepInput,
  kind: 'evidence' | 'elevate',
):
  | { readonly refused: { events: DomainEvent[]; result: StepResult } }
  | { readonly principalId: string; readonly base: Failure; readonly proofs: Proof[] } => {
  const { now } = meta;
  const principalId = ownLiveSession(state, meta, input.sessionId, now);
  // A known device elevates through a lockout others caused (lockout.ts).
  const device = trustedDevice(state, principalId, input.device, input.settings.lockoutThreshold);
  const base = { principalId, identity: principalId, step: kind, reason: '', device };
  const refused = (reason: string) => ({
    refused: refuse(state, { ...base, reason }, now, input.settings),
  });
  if (device === undefined && isLockedOut(state, principalId, now)) return refused('locked');
  const attempt = {
    principalId,
    presented: input.presented,
    ip: input.ip,
    credentialDirectories: sessionCredentialDirectories(state, input.sessionId),
    sessionId: input.sessionId,
  };
  const { proofs, failed } = gather(input.providers, state, attempt, input.prepared, now);
  if (failed.length > 0) return refused(failed.join(','));
  return { principalId, base, proofs };
};

/** Multi-step login: more evidence for the caller's own session (e.g. an OTP after the password). */
export const addEvidence = (input: StepInput): Command<StepResult> => ({
  name: 'AddSessionEvidence',
  decide(state, meta) {
    const { now } = meta;
    const step = sessionStep(state, meta, input, 'evidence');
    if ('refused' in step) return step.refused;
    const { principalId, base, proofs } = step;
    if (proofs.length === 0)
      return refuse(state, { ...base, reason: 'no-evidence' }, now, input.settings);
    const cap = Date.parse(getSessionRecord(state, input.sessionId)?.expiresAt ?? '');
    const added: DomainEvent = {
      type: 'SessionEvidenceAdded',
      data: {
        sessionId: input.sessionId,
        tokenHash: input.tokenHash,
        evidences: evidencesOf(proofs, now, cap),
      },
    };
    const session = getSession(state, input.sessionId, now, input.ip);
    if (!session) throw new AppError('SESSION_NOT_FOUND', 'no such session');
    const evidences = [...session.evidences, ...(added.data.evidences as EvidenceView[])];
    const held = new Set(evidences.map((e) => e.evidence));
    const missing = requiredEvidences(state, principalId).filter((e) => !held.has(e));
    return {
      events: [...proofs.flatMap((p) => p.events), added],
      result: {
        ok: true,
        session: {
          ...session,
          evidences,
          missing,
          complete: held.size > 0 && missing.length === 0,
        },
      },
    };
  },
});

/** Sudo mode: re-present what the policy asks (default: the password), from where it asks. */
export const elevate = (input: StepInput): Command<StepResult> => ({
  name: 'ElevateSession',
  decide(state, meta) {
    const { now } = meta;
    const step = sessionStep(state, meta, input, 'elevate');
    if ('refused' in step) return step.refused;
    const { principalId, base, proofs } = step;
    const lacking = elevationLacks(state, principalId, proofs);
    if (lacking.length > 0 || proofs.length === 0)
      return refuse(
        state,
        { ...base, reason: `elevation-lacks:${lacking.join(',')}` },
        now,
        input.settings,
      );
    const cap = Date.parse(getSessionRecord(state, input.sessionId)?.expiresAt ?? '');
    const until = Math.min(now + input.settings.elevationS * 1000, cap);
    const events: DomainEvent[] = [
      ...proofs.flatMap((p) => p.events),
      {
        type: 'SessionElevated',
        data: {
          sessionId: input.sessionId,
          tokenHash: input.tokenHash,
          until: iso(until),
          evidences: evidencesOf(proofs, now, cap),
        },
      },
    ];
    const session = getSession(state, input.sessionId, now, input.ip);
    if (!session) throw new AppError('SESSION_NOT_FOUND', 'no such session');
    return { events, result: { ok: true, session: { ...session, elevatedUntil: iso(until) } } };
  },
});
