// Self-service decisions (src/authn/self-service.ts, password-change.ts), as given/when/then over
// the real read model: registration (nothing when the address is taken, so the route can answer
// alike), verification, reset tokens and their completion, and changing one's own password.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changeOwnPassword } from '../../src/authn/password-change.ts';
import { verifiedPassword } from '../../src/authn/password-provider.ts';
import {
  completePasswordReset,
  registerSelf,
  requestPasswordReset,
  verifyEmail,
} from '../../src/authn/self-service.ts';
import type { DomainEvent } from '../../src/events/catalogue.ts';
import * as normalize from '../../src/events/normalize.ts';
import {
  given,
  identity,
  NOW,
  passwordSet,
  principal,
  sessionStarted,
  sha256,
} from '../support/decide.ts';

const HASH = `$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0NTY3OA$${'A'.repeat(43)}`;
const NEW_HASH = `${HASH.slice(0, -1)}B`;
const iso = (ms: number) => new Date(ms).toISOString();
const resetIssued: DomainEvent = {
  type: 'PasswordResetIssued',
  data: { principalId: 'alice', tokenHash: sha256('reset'), expiresAt: iso(NOW + 3600_000) },
};

describe('self-service: decisions', () => {
  const register = registerSelf({
    principalId: 'p1',
    identityId: 'i1',
    credentialId: 'c1',
    briefName: 'Alice',
    email: normalize.email('email', 'Alice@example.org'),
    hash: HASH,
    tokenHash: sha256('verify'),
    lifetimeS: 3600,
  });

  it('registers a principal, its address as identity, its password and a verification token', () => {
    const outcome = given()
      .when(register, { actor: 'anonymous' })
      .then([
        {
          type: 'PrincipalRegistered',
          data: {
            principalId: 'p1',
            kind: 'person',
            pii: {
              briefName: 'Alice',
              fullName: 'Alice',
              email: 'Alice@example.org',
              emailKey: 'alice@example.org',
              phone: null,
            },
          },
        },
        {
          type: 'IdentityAdded',
          data: {
            identityId: 'i1',
            directoryId: 'internal',
            principalId: 'p1',
            pii: normalize.claimedName('name', 'Alice@example.org'),
          },
        },
        passwordSet('p1', 'c1', HASH),
        {
          type: 'EmailVerificationIssued',
          data: {
            principalId: 'p1',
            tokenHash: sha256('verify'),
            expiresAt: iso(NOW + 3600_000),
            pii: { emailKey: 'alice@example.org' },
          },
        },
      ]);
    assert.equal(outcome.authority, undefined);
  });

  it('a taken address records nothing and names its holder to the caller (who mails it)', () => {
    const outcome = given(principal('alice', { email: 'alice@example.org' }))
      .when(register, { actor: 'anonymous' })
      .then([]);
    assert.deepEqual(outcome.result, { registered: false, existingPrincipalId: 'alice' });
    given([principal('bob'), identity('b', 'bob', 'alice@example.org')])
      .when(register, { actor: 'anonymous' })
      .then([]);
  });

  it('a verification token verifies the address it was mailed to, once', () => {
    const issued: DomainEvent = {
      type: 'EmailVerificationIssued',
      data: {
        principalId: 'alice',
        tokenHash: sha256('verify'),
        expiresAt: iso(NOW + 3600_000),
        pii: { emailKey: 'alice@example.org' },
      },
    };
    const verified: DomainEvent = {
      type: 'EmailVerified',
      data: {
        principalId: 'alice',
        tokenHash: sha256('verify'),
        pii: { emailKey: 'alice@example.org' },
      },
    };
    const alice = principal('alice', { email: 'alice@example.org' });
    given([alice, issued])
      .when(verifyEmail({ tokenHash: sha256('verify') }))
      .then([verified]);
    given([alice, issued, verified])
      .when(verifyEmail({ tokenHash: sha256('verify') }))
      .thenRefused('TOKEN_INVALID');
  });

  it('a reset token is issued only where there is an address to mail it to', () => {
    given(principal('alice'))
      .when(requestPasswordReset({ principalId: 'alice', tokenHash: sha256('r'), lifetimeS: 600 }))
      .then([]);
    given(principal('alice', { email: 'alice@example.org' }))
      .when(requestPasswordReset({ principalId: 'alice', tokenHash: sha256('r'), lifetimeS: 600 }))
      .then([
        {
          type: 'PasswordResetIssued',
          data: { principalId: 'alice', tokenHash: sha256('r'), expiresAt: iso(NOW + 600_000) },
        },
      ]);
  });

  it('a reset replaces the password, ends the sessions and uses the token up', () => {
    given([
      principal('alice', { email: 'alice@example.org' }),
      passwordSet('alice', 'alice-pw', HASH),
      sessionStarted('s1', 'alice'),
      resetIssued,
    ])
      .when(
        completePasswordReset({ tokenHash: sha256('reset'), hash: NEW_HASH, credentialId: 'new' }),
      )
      .then([
        passwordSet('alice', 'alice-pw', NEW_HASH),
        { type: 'SessionEnded', data: { sessionId: 's1', reason: 'password-changed' } },
        {
          type: 'PasswordResetCompleted',
          data: { principalId: 'alice', tokenHash: sha256('reset') },
        },
      ]);
  });

  it('a reset token issued before the password last changed is void', () => {
    given([
      principal('alice', { email: 'alice@example.org' }),
      resetIssued,
      passwordSet('alice', 'alice-pw', HASH),
    ])
      .when(
        completePasswordReset({ tokenHash: sha256('reset'), hash: NEW_HASH, credentialId: 'new' }),
      )
      .thenRefused('TOKEN_INVALID');
  });

  it('changing one’s password with the current one ends the other sessions if asked', () => {
    given([
      principal('alice'),
      passwordSet('alice', 'alice-pw', HASH),
      sessionStarted('s1', 'alice'),
      sessionStarted('s2', 'alice'),
    ])
      .when(
        changeOwnPassword({
          sessionId: 's1',
          current: 'the old one',
          hash: NEW_HASH,
          endOtherSessions: true,
          ip: undefined,
          prepared: verifiedPassword('alice-pw', HASH),
          settings: {
            idleTimeoutS: 1800,
            absoluteTimeoutS: 28_800,
            elevationS: 300,
            lockoutThreshold: 5,
            lockoutBaseS: 60,
            lockoutMaxS: 3600,
          },
        }),
        { actor: 'alice', credential: 'session' },
      )
      .then([
        passwordSet('alice', 'alice-pw', NEW_HASH),
        { type: 'SessionEnded', data: { sessionId: 's2', reason: 'password-changed' } },
      ]);
  });
});
