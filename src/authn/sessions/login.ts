// The Login command (multi-step login): starts a session with whatever the providers proved; until
// the session holds what its policy requires it is incomplete (policy.ts), and step-up.ts adds
// more. A failure of any kind is recorded (lockout.ts) and answered alike.
import {
  allowedCredentialDirectories,
  INTERNAL_DIRECTORY,
} from '../../../projections/identities.ts';
import { principalUsable } from '../../../projections/principals.ts';
import type { DomainEvent } from '../../events/catalogue.ts';
import type { Command } from '../../node/command.ts';
import type { Reader } from '../../readmodel/projection.ts';
import type { EvidenceProvider, Presented } from '../evidence.ts';
import { isLockedOut, trustedDevice } from '../lockout.ts';
import { requiredEvidences } from '../policy.ts';
import { type AuthSettings, refuse, type StepResult } from './decide.ts';
import { evidencesOf, gather, type Prepared } from './evidence.ts';
import type { Transport } from './token.ts';
import type { SessionView } from './views.ts';

const iso = (ms: number): string => new Date(ms).toISOString();

export type LoginInput = {
  readonly sessionId: string;
  readonly tokenHash: string;
  readonly transport: Transport;
  /** The principal the identity names; null when it names nobody (the failure is recorded). */
  readonly principalId: string | null;
  /** What the client typed, for the failure record. */
  readonly identity: string;
  /** The identity directory the identity was looked up in (default: internal). */
  readonly identityDirectoryId?: string;
  /** A device that logged in to this principal before, verified by the caller (lockout.ts). */
  readonly device?: string | undefined;
  readonly presented: Presented;
  readonly ip: string | undefined;
  readonly prepared: Prepared;
  readonly providers: readonly EvidenceProvider<unknown>[];
  readonly settings: AuthSettings;
};

export const login = (input: LoginInput): Command<StepResult> => ({
  name: 'Login',
  decide(state, meta) {
    const { now } = meta;
    const base = { identity: input.identity, step: 'login' as const };
    const principalId = input.principalId;
    if (principalId === null)
      return refuse(
        state,
        { ...base, principalId: null, reason: 'unknown-identity' },
        now,
        input.settings,
      );
    if (!principalUsable(state, principalId))
      return refuse(state, { ...base, principalId, reason: 'inactive' }, now, input.settings);
    // A known device passes a lockout others caused; its failures count against it (lockout.ts).
    const device = trustedDevice(state, principalId, input.device, input.settings.lockoutThreshold);
    const locked = isLockedOut(state, principalId, now);
    if (locked && device === undefined)
      return refuse(state, { ...base, principalId, reason: 'locked' }, now, input.settings);
    const identityDirectoryId = input.identityDirectoryId ?? INTERNAL_DIRECTORY;
    const attempt = {
      principalId,
      presented: input.presented,
      ip: input.ip,
      credentialDirectories: allowedCredentialDirectories(state, identityDirectoryId),
      sessionId: input.sessionId,
    };
    const { proofs, failed } = gather(input.providers, state, attempt, input.prepared, now);
    if (failed.length > 0)
      return refuse(
        state,
        { ...base, principalId, device, reason: failed.join(',') },
        now,
        input.settings,
      );
    if (proofs.length === 0)
      return refuse(
        state,
        { ...base, principalId, device, reason: 'no-evidence' },
        now,
        input.settings,
      );
    const expiresAt = now + input.settings.absoluteTimeoutS * 1000;
    const started: DomainEvent = {
      type: 'SessionStarted',
      data: {
        sessionId: input.sessionId,
        principalId,
        transport: input.transport,
        tokenHash: input.tokenHash,
        expiresAt: iso(expiresAt),
        idleTimeoutSeconds: input.settings.idleTimeoutS,
        evidences: evidencesOf(proofs, now, expiresAt),
        identityDirectoryId,
        ...(locked ? { throughLockout: true as const } : {}),
      },
    };
    const events = [...proofs.flatMap((p) => p.events), started];
    return { events, result: { ok: true, session: projected(state, principalId, started, now) } };
  },
});

/** The session as it will read once `started` is applied (decide cannot read its own events). */
const projected = (
  state: Reader,
  principalId: string,
  started: Extract<DomainEvent, { type: 'SessionStarted' }>,
  now: number,
): SessionView => {
  const evidences = started.data.evidences.map((e) => ({ ...e }));
  const held = new Set<string>(evidences.map((e) => e.evidence));
  const missing = requiredEvidences(state, principalId).filter((e) => !held.has(e));
  return {
    sessionId: started.data.sessionId,
    principalId,
    transport: started.data.transport,
    startedAt: iso(now),
    expiresAt: started.data.expiresAt,
    lastSeenAt: iso(now),
    evidences,
    complete: held.size > 0 && missing.length === 0,
    missing,
    elevatedUntil: null,
    ended: false,
    endReason: null,
  };
};
