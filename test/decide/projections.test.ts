// A test per projection (projections/*.ts): given events, the rows they leave in the projection's
// tables, read back from the same in-memory read model the decision tests decide against. One
// event (or a short history) per module; the convergence and rebuild tests hold the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import { encodeHlc } from '../../src/clock/hlc.ts';
import type { DomainEvent } from '../../src/events/catalogue.ts';
import {
  given,
  identity,
  member,
  NOW,
  passwordSet,
  principal,
  privilegeOf,
  role,
  sessionStarted,
  sha256,
} from '../support/decide.ts';

const iso = (ms: number) => new Date(ms).toISOString();
/** The HLC `given` stamps on event `i` of `n` at origin `n1` (one second apart before NOW). */
const hlc = (i: number, n: number, origin = 'n1') =>
  encodeHlc({ wall: NOW - (n - i) * 1000, counter: 0, node: origin });

describe('projections: events → rows', () => {
  it('principals: a registration is a row; a deactivation clears its active flag', () => {
    const scenario = given([
      principal('alice', { email: 'Alice@Example.org' }),
      { type: 'PrincipalDeactivated', data: { principalId: 'alice', reason: 'left' } },
    ]);
    assert.deepEqual(
      scenario.rows(
        `SELECT id, kind, brief_name, email, email_key, email_status, active, deleted, created_hlc
         FROM principals WHERE id = 'alice'`,
      ),
      [
        {
          id: 'alice',
          kind: 'person',
          brief_name: 'alice',
          email: 'Alice@Example.org',
          email_key: 'alice@example.org',
          email_status: 'held',
          active: 0,
          deleted: 0,
          created_hlc: hlc(0, 2),
        },
      ],
    );
  });

  it('identities: the earliest claim of a name holds it, a later lookalike is a conflict', () => {
    const scenario = given([
      principal('alice'),
      principal('bob'),
      identity('a', 'alice', 'mary'),
      identity('b', 'bob', 'rnary'),
    ]);
    assert.deepEqual(
      scenario.rows('SELECT id, principal_id, key, skeleton, status FROM identities ORDER BY id'),
      [
        { id: 'a', principal_id: 'alice', key: 'mary', skeleton: 'rnary', status: 'held' },
        { id: 'b', principal_id: 'bob', key: 'rnary', skeleton: 'rnary', status: 'conflict' },
      ],
    );
  });

  it('credentials: a password credential and an access token, then its revocation', () => {
    const hash = `$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0NTY3OA$${'A'.repeat(43)}`;
    const scenario = given([
      principal('alice'),
      passwordSet('alice', 'pw', hash),
      {
        type: 'AccessTokenIssued',
        data: {
          credentialId: 't',
          principalId: 'alice',
          name: 'ci',
          secretHash: sha256('t'),
          expiresAt: iso(NOW + 86_400_000),
          subnets: ['10.0.0.0/8'],
        },
      },
      { type: 'CredentialRevoked', data: { credentialId: 't', reason: '' } },
    ]);
    assert.deepEqual(
      scenario.rows(
        'SELECT id, principal_id, directory_id, kind, secret, changed_hlc, revoked FROM credentials',
      ),
      [
        {
          id: 'pw',
          principal_id: 'alice',
          directory_id: 'password',
          kind: 'password',
          secret: hash,
          changed_hlc: hlc(1, 4),
          revoked: 0,
        },
      ],
    );
    assert.deepEqual(
      scenario.rows('SELECT id, secret_hash, subnets, revoked, revoked_hlc FROM access_tokens'),
      [
        {
          id: 't',
          secret_hash: sha256('t'),
          subnets: '["10.0.0.0/8"]',
          revoked: 1,
          revoked_hlc: hlc(3, 4),
        },
      ],
    );
  });

  it('factors: an OTP credential confirmed, its highest used step kept; a subnet credential', () => {
    const scenario = given([
      principal('alice'),
      {
        type: 'OtpEnrolled',
        data: {
          credentialId: 'otp',
          principalId: 'alice',
          directoryId: 'otp',
          kind: 'totp',
          name: 'phone',
          digits: 6,
          algorithm: 'sha1',
          period: 30,
          counter: null,
          seed: { keyId: 'k1', iv: 'aXY=', ciphertext: 'Yw==', tag: 'dA==' },
          validUntil: null,
        },
      },
      { type: 'OtpConfirmed', data: { credentialId: 'otp' } },
      { type: 'OtpUsed', data: { credentialId: 'otp', step: 7 } },
      { type: 'OtpUsed', data: { credentialId: 'otp', step: 5 } },
      {
        type: 'SubnetAllowed',
        data: {
          credentialId: 'net',
          principalId: 'alice',
          directoryId: 'subnet',
          name: 'office',
          cidrs: ['10.1.0.0/16'],
          validUntil: null,
        },
      },
    ]);
    assert.deepEqual(
      scenario.rows('SELECT id, kind, period, confirmed, last_step, revoked FROM otp_credentials'),
      [{ id: 'otp', kind: 'totp', period: 30, confirmed: 1, last_step: 7, revoked: 0 }],
    );
    assert.deepEqual(scenario.rows('SELECT id, name, cidrs FROM subnet_credentials'), [
      { id: 'net', name: 'office', cidrs: '["10.1.0.0/16"]' },
    ]);
  });

  it('authz: roles with their effective parent, grants and memberships', () => {
    const scenario = given([
      principal('alice'),
      role('staff'),
      role('juniors', 'staff'),
      privilegeOf('staff', 'authlog.audit.read'),
      privilegeOf('juniors', 'authlog.audit.read', 'revoke'),
      member('juniors', 'alice'),
      { type: 'RoleMembershipRevoked', data: { roleId: 'juniors', principalId: 'alice' } },
    ]);
    assert.deepEqual(
      scenario.rows(
        "SELECT id, parent_id, effective_parent, deleted FROM roles WHERE id <> 'administrators' ORDER BY id",
      ),
      [
        { id: 'juniors', parent_id: 'staff', effective_parent: 'staff', deleted: 0 },
        { id: 'staff', parent_id: null, effective_parent: null, deleted: 0 },
      ],
    );
    assert.deepEqual(
      scenario.rows(
        "SELECT role_id, scope, name, object_id, effect FROM role_grants WHERE role_id <> 'administrators' ORDER BY role_id",
      ),
      [
        {
          role_id: 'juniors',
          scope: 'privilege',
          name: 'authlog.audit.read',
          object_id: '',
          effect: 'revoke',
        },
        {
          role_id: 'staff',
          scope: 'privilege',
          name: 'authlog.audit.read',
          object_id: '',
          effect: 'grant',
        },
      ],
    );
    assert.deepEqual(scenario.rows("SELECT * FROM memberships WHERE role_id = 'juniors'"), [
      { role_id: 'juniors', principal_id: 'alice', granted: 0 },
    ]);
  });

  it('sessions: a session with its evidence, ended; failures and a lockout', () => {
    const scenario = given([
      principal('alice'),
      sessionStarted('s1', 'alice'),
      { type: 'SessionEnded', data: { sessionId: 's1', reason: 'logout' } },
      {
        type: 'AuthenticationFailed',
        data: { principalId: 'alice', reason: 'password', step: 'login', pii: { identity: 'a' } },
      },
      {
        type: 'PrincipalLockedOut',
        data: { principalId: 'alice', until: iso(NOW + 60_000), failures: 3 },
      },
    ]);
    assert.deepEqual(scenario.rows('SELECT id, principal_id, ended, end_reason FROM sessions'), [
      { id: 's1', principal_id: 'alice', ended: 1, end_reason: 'logout' },
    ]);
    assert.deepEqual(
      scenario.rows('SELECT session_id, evidence, method, credential_id FROM session_evidences'),
      [{ session_id: 's1', evidence: 'knowledge', method: 'password', credential_id: 'alice-pw' }],
    );
    assert.deepEqual(scenario.rows('SELECT principal_id, reason, step FROM auth_failures'), [
      { principal_id: 'alice', reason: 'password', step: 'login' },
    ]);
    assert.deepEqual(scenario.rows('SELECT principal_id, locked_until FROM principal_lockouts'), [
      { principal_id: 'alice', locked_until: iso(NOW + 60_000) },
    ]);
  });

  it('account-tokens: a verification token used up, and the verified address', () => {
    const scenario = given([
      principal('alice', { email: 'alice@example.org' }),
      {
        type: 'EmailVerificationIssued',
        data: {
          principalId: 'alice',
          tokenHash: sha256('v'),
          expiresAt: iso(NOW + 3600_000),
          pii: { emailKey: 'alice@example.org' },
        },
      },
      {
        type: 'EmailVerified',
        data: {
          principalId: 'alice',
          tokenHash: sha256('v'),
          pii: { emailKey: 'alice@example.org' },
        },
      },
    ]);
    assert.deepEqual(
      scenario.rows(
        'SELECT token_hash, purpose, principal_id, email_key, used FROM account_tokens',
      ),
      [
        {
          token_hash: sha256('v'),
          purpose: 'verify-email',
          principal_id: 'alice',
          email_key: 'alice@example.org',
          used: 1,
        },
      ],
    );
    assert.deepEqual(scenario.rows('SELECT principal_id, email_key FROM verified_emails'), [
      { principal_id: 'alice', email_key: 'alice@example.org' },
    ]);
  });

  it('authority: an administrative event concurrent with its actor’s removal is a race', () => {
    const allowedBy = [
      {
        role: ADMINISTRATORS_ROLE,
        grantedBy: ADMINISTRATORS_ROLE,
        grant: 'privilege:authlog.admin',
      },
    ];
    const events: DomainEvent[] = [principal('root'), member(ADMINISTRATORS_ROLE, 'root')];
    const scenario = given([
      ...events,
      {
        type: 'PrivilegeDefined',
        data: { privilege: 'billing.refund', description: '' },
        actor: 'root',
        authority: allowedBy,
        id: 'defined',
      },
      // Site n2 had seen root's membership, not what root then did at n1.
      {
        type: 'RoleMembershipRevoked',
        data: { roleId: ADMINISTRATORS_ROLE, principalId: 'root' },
        origin: 'n2',
        deps: { n1: 2n },
        id: 'revoked',
      },
    ]);
    assert.deepEqual(
      scenario.rows('SELECT role, grant, event_id, actor, type FROM authority_uses'),
      [
        {
          role: ADMINISTRATORS_ROLE,
          grant: 'privilege:authlog.admin',
          event_id: 'defined',
          actor: 'root',
          type: 'PrivilegeDefined',
        },
      ],
    );
    assert.deepEqual(
      scenario.rows(
        'SELECT event_id, revocation_id, actor, event_type, revocation_type FROM authority_races',
      ),
      [
        {
          event_id: 'defined',
          revocation_id: 'revoked',
          actor: 'root',
          event_type: 'PrivilegeDefined',
          revocation_type: 'RoleMembershipRevoked',
        },
      ],
    );
  });

  it('audit: a row per event with its subjects and the grant it was allowed by', () => {
    const scenario = given([
      ...[principal('root'), member(ADMINISTRATORS_ROLE, 'root')],
      {
        type: 'PrincipalDeactivated',
        data: { principalId: 'root', reason: 'left' },
        actor: 'root',
        via: 'session-1',
        ip: '192.0.2.1',
        authority: [
          {
            role: ADMINISTRATORS_ROLE,
            grantedBy: ADMINISTRATORS_ROLE,
            grant: 'privilege:authlog.admin',
          },
        ],
        id: 'deactivated',
      },
    ]);
    const [row] = scenario.rows(
      "SELECT actor, via, type, family, ip, allowed_by FROM audit WHERE event_id = 'deactivated'",
    );
    assert.equal(row?.actor, 'root');
    assert.equal(row?.via, 'session-1');
    assert.equal(row?.type, 'PrincipalDeactivated');
    assert.equal(row?.ip, '192.0.2.1');
    assert.match(String(row?.allowed_by), /administrators/);
    assert.deepEqual(
      scenario.rows("SELECT subject FROM audit_subjects WHERE event_id = 'deactivated'"),
      [{ subject: 'root' }],
    );
  });
});
