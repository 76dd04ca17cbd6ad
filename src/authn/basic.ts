// `Authorization: Basic` for applications (scenario 5): identity and password on every request,
// checked like a login (same providers, same lockout, same failure records), without a session.
// A success writes nothing unless it resets a failure count (AuthenticationSucceeded), so a
// well-behaved application adds no events per request.
import { INTERNAL_DIRECTORY } from '../../projections/identities.ts';
import type { Command } from '../node/command.ts';
import type { EvidenceProvider } from './evidence.ts';
import { failureEvents, lockoutState } from './lockout.ts';
import { allowedCredentialDirectories, getPrincipal } from './queries.ts';
import type { AuthSettings, Prepared } from './sessions.ts';

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
}): Command<BasicResult> => ({
  name: 'BasicAuthenticate',
  decide(state, meta) {
    const { now } = meta;
    const fail = (reason: string) => ({
      events: failureEvents(
        state,
        { principalId: input.principalId, reason, step: 'basic', identity: input.identity },
        now,
        input.settings,
      ),
      result: { ok: false } as const,
    });
    const p = getPrincipal(state, input.principalId);
    if (!p?.active || p.deleted) return fail('inactive');
    const lock = lockoutState(state, p.id, now);
    if (lock.lockedUntil !== null) return fail('locked');
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
    return {
      events: [
        ...outcome.events,
        ...(lock.failures > 0
          ? [
              {
                type: 'AuthenticationSucceeded' as const,
                data: { principalId: p.id, step: 'basic' },
              },
            ]
          : []),
      ],
      result: { ok: true, credentialId: outcome.credentialId, evidences: [outcome.evidence] },
    };
  },
});
