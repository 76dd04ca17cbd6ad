// Decisions on sessions, lockout and policies (src/authn/sessions/, lockout.ts, policy.ts), as
// given/when/then over the real read model. Login and elevation take the evidence already
// prepared outside the writer queue (argon2 verified): here it is built by `verifiedPassword`,
// so no hashing runs and each test is about the decision alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unlockPrincipal } from '../../src/authn/lockout.ts';
import { passwordProvider, verifiedPassword } from '../../src/authn/password-provider.ts';
import { setAuthPolicy } from '../../src/authn/policy.ts';
import type { AuthSettings } from '../../src/authn/sessions/decide.ts';
import { endSession, endSessionsOf } from '../../src/authn/sessions/end.ts';
import { login } from '../../src/authn/sessions/login.ts';
import { elevate } from '../../src/authn/sessions/step-up.ts';
import type { DomainEvent } from '../../src/events/catalogue.ts';
import {
  administrator,
  elevated,
  given,
  holder,
  NOW,
  passwordSet,
  principal,
  sessionStarted,
  sha256,
} from '../support/decide.ts';

const MANAGE = 'authlog.principals.manage';
const HASH = `$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0NTY3OA$${'A'.repeat(43)}`;
const settings: AuthSettings = {
  idleTimeoutS: 1800,
  absoluteTimeoutS: 8 * 3600,
  elevationS: 300,
  lockoutThreshold: 3,
  lockoutBaseS: 60,
  lockoutMaxS: 3600,
};
const iso = (ms: number) => new Date(ms).toISOString();

const alice: DomainEvent[] = [principal('alice'), passwordSet('alice', 'alice-pw', HASH)];

const failed = (reason: string): DomainEvent => ({
  type: 'AuthenticationFailed',
  data: { principalId: 'alice', reason, step: 'login', pii: { identity: 'alice' } },
});

const loginAs = (principalId: string | null, prepared = verifiedPassword('alice-pw', HASH)) =>
  login({
    sessionId: 's1',
    tokenHash: sha256('token'),
    transport: 'bearer',
    principalId,
    identity: 'alice',
    presented: { password: 'the right one' },
    ip: undefined,
    prepared,
    providers: [passwordProvider],
    settings,
  });

describe('sessions, lockout and policies: decisions', () => {
  it('a verified password starts a session with knowledge evidence', () => {
    given(alice)
      .when(loginAs('alice'))
      .then([
        {
          type: 'SessionStarted',
          data: {
            sessionId: 's1',
            principalId: 'alice',
            transport: 'bearer',
            tokenHash: sha256('token'),
            expiresAt: iso(NOW + 8 * 3600_000),
            idleTimeoutSeconds: 1800,
            evidences: [
              {
                evidence: 'knowledge',
                method: 'password',
                credentialId: 'alice-pw',
                at: iso(NOW),
                expiresAt: iso(NOW + 8 * 3600_000),
              },
            ],
            identityDirectoryId: 'internal',
          },
        },
      ]);
  });

  it('a password changed while it was being verified no longer counts', () => {
    given(alice)
      .when(loginAs('alice', verifiedPassword('alice-pw', `${HASH.slice(0, -1)}B`)))
      .then([failed('password')]);
  });

  it('an unknown identity is recorded as a failure that locks nobody', () => {
    given()
      .when(loginAs(null))
      .then([
        {
          type: 'AuthenticationFailed',
          data: {
            principalId: null,
            reason: 'unknown-identity',
            step: 'login',
            pii: { identity: 'alice' },
          },
        },
      ]);
  });

  it('the failure that reaches the threshold locks the principal out', () => {
    given([...alice, failed('password'), failed('password')])
      .when(loginAs('alice', new Map()))
      .then([
        failed('password'),
        {
          type: 'PrincipalLockedOut',
          data: { principalId: 'alice', until: iso(NOW + 60_000), failures: 3 },
        },
      ]);
  });

  it('a locked-out principal is refused even with the right password', () => {
    given([
      ...alice,
      {
        type: 'PrincipalLockedOut',
        data: { principalId: 'alice', until: iso(NOW + 60_000), failures: 3 },
      },
    ])
      .when(loginAs('alice'))
      .then([failed('locked')]);
  });

  it('elevation re-presents the password on the caller’s own session', () => {
    const outcome = given([...alice, sessionStarted('s1', 'alice')])
      .when(
        elevate({
          sessionId: 's1',
          tokenHash: sha256('rotated'),
          presented: { password: 'the right one' },
          ip: undefined,
          prepared: verifiedPassword('alice-pw', HASH),
          providers: [passwordProvider],
          settings,
        }),
        { actor: 'alice', credential: 'session' },
      )
      .then([
        {
          type: 'SessionElevated',
          data: {
            sessionId: 's1',
            tokenHash: sha256('rotated'),
            until: iso(NOW + 300_000),
            evidences: [
              {
                evidence: 'knowledge',
                method: 'password',
                credentialId: 'alice-pw',
                at: iso(NOW),
                expiresAt: iso(NOW + 12 * 3600_000),
              },
            ],
          },
        },
      ]);
    assert.equal(outcome.result?.ok, true);
  });

  it('nobody elevates someone else’s session', () => {
    given([...alice, principal('eve'), sessionStarted('s1', 'alice')])
      .when(
        elevate({
          sessionId: 's1',
          tokenHash: sha256('x'),
          presented: { password: 'the right one' },
          ip: undefined,
          prepared: verifiedPassword('alice-pw', HASH),
          providers: [passwordProvider],
          settings,
        }),
        { actor: 'eve', credential: 'session' },
      )
      .thenRefused('UNAUTHENTICATED');
  });

  it('logging out ends one’s own session; someone else’s is not even found without rights', () => {
    given([...alice, sessionStarted('s1', 'alice'), principal('eve')])
      .when(endSession({ sessionId: 's1' }), { actor: 'alice' })
      .then([{ type: 'SessionEnded', data: { sessionId: 's1', reason: 'logout' } }]);
    given([...alice, sessionStarted('s1', 'alice'), principal('eve')])
      .when(endSession({ sessionId: 's1' }), elevated('eve'))
      .thenRefused('SESSION_NOT_FOUND');
  });

  it('a forced log-off records the manager’s authority', () => {
    const outcome = given([
      ...holder('pm', MANAGE),
      ...alice,
      sessionStarted('s1', 'alice'),
      sessionStarted('s2', 'alice'),
    ])
      .when(endSessionsOf({ principalId: 'alice' }), elevated('pm'))
      .then([
        { type: 'SessionEnded', data: { sessionId: 's1', reason: 'revoked' } },
        { type: 'SessionEnded', data: { sessionId: 's2', reason: 'revoked' } },
      ]);
    assert.deepEqual(outcome.authority, [
      { role: 'pm-role', grantedBy: 'pm-role', grant: `privilege:${MANAGE}` },
    ]);
  });

  it('unlocks a locked principal; an administrator is out of a manager’s reach', () => {
    const locked: DomainEvent = {
      type: 'PrincipalLockedOut',
      data: { principalId: 'alice', until: iso(NOW + 60_000), failures: 3 },
    };
    given([...holder('pm', MANAGE), ...alice, locked])
      .when(unlockPrincipal({ principalId: 'alice' }), elevated('pm'))
      .then([{ type: 'PrincipalUnlocked', data: { principalId: 'alice' } }]);
    given([...holder('pm', MANAGE), ...administrator('root')])
      .when(unlockPrincipal({ principalId: 'root' }), elevated('pm'))
      .thenRefused('FORBIDDEN');
  });

  it('sets a policy, sorted and deduplicated', () => {
    given(alice)
      .when(
        setAuthPolicy({
          scope: 'principal',
          subjectId: 'alice',
          require: ['ownership', 'knowledge', 'knowledge'],
        }),
      )
      .then([
        {
          type: 'AuthPolicySet',
          data: {
            scope: 'principal',
            subjectId: 'alice',
            require: ['knowledge', 'ownership'],
            elevate: [],
          },
        },
      ]);
  });
});
