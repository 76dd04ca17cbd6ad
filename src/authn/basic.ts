// `Authorization: Basic` for applications (scenario 5): identity and password on every request,
// checked like a login (same providers, same lockout, same failure records), without a session.
// A success writes nothing unless it resets a failure count (AuthenticationSucceeded), so a
// well-behaved application adds no events per request. A known device (a signed device token, or
// an address the principal used Basic from before: src/http/devices.ts) passes a lockout others
// caused and its failures count against it alone (lockout.ts); its success through a lockout
// resets nothing, so a busy application does not reset the count for whoever is guessing.
import { allowedCredentialDirectories, INTERNAL_DIRECTORY } from '../../projections/identities.ts';
import { getPrincipal } from '../../projections/principals.ts';
import type { Command } from '../node/command.ts';
import type { EvidenceProvider } from './evidence.ts';
import { failureEvents, lockoutState, trustedDevice } from './lockout.ts';
import type { AuthSettings } from './sessions/decide.ts';
import type { Prepared } from './sessions/evidence.ts';

export type BasicResult =
  | { readonly ok: true; readonly credentialId: string; readonly evidences: readonly string[] }
  | { readonly ok: false };

export const basicAuthenticate = (input: {
  principalId: string;
  identity: string;
  password: string;
  ip: string | undefined;
  prepared: Prepared;
  provider: EvidenceProvider<unknown>;
  settings: AuthSettings;
  /** A device that authenticated as this principal before, verified by the caller. */
  device?: string | undefined;
}): Command<BasicResult> => ({
  name: 'BasicAuthenticate',
  decide(state, meta) {
    const { now } = meta;
    const device = trustedDevice(
      state,
      input.principalId,
      input.device,
      input.settings.lockoutThreshold,
    );
    const fail = (reason: string) => ({
      events: failureEvents(
        state,
        { principalId: input.principalId, reason, step: 'basic', identity: input.identity, device },
        now,
        input.settings,
      ),
      result: { ok: false } as const,
    });
    const p = getPrincipal(state, input.principalId);
    if (!p?.active || p.deleted) return fail('inactive');
    const lock = lockoutState(state, p.id, now);
    const locked = lock.lockedUntil !== null;
    if (locked && device === undefined) return fail('locked');
    const outcome = input.provider.decide(
      {
        state,
        principalId: p.id,
        presented: { password: input.password },
        ip: input.ip,
        now,
        // Basic names identities of the internal directory, with that directory's tie.
        credentialDirectories: allowedCredentialDirectories(state, INTERNAL_DIRECTORY),
      },
      input.prepared.get(input.provider),
    );
    if (outcome === 'none' || outcome === 'failed') return fail(input.provider.method);
    if ('failed' in outcome) return fail(outcome.failed);
    return {
      events: [
        ...outcome.events,
        ...(lock.failures > 0 && !locked
          ? [
              {
                type: 'AuthenticationSucceeded' as const,
                data: { principalId: p.id, step: 'basic' },
              },
            ]
          : []),
      ],
      result: { ok: true, credentialId: outcome.credentialId, evidences: [...outcome.evidences] },
    };
  },
});
