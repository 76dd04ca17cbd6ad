// Decisions on credentials and tokens (src/authn/credentials.ts, tokens.ts, otp.ts, subnets.ts),
// as given/when/then over the real read model: passwords, credential directories, access tokens,
// OTP enrollment and confirmation, subnets; who may, from which session, and what is recorded.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { changeCredentialDirectory, setPassword } from '../../src/authn/credentials.ts';
import { confirmOtp, enrollOtp } from '../../src/authn/otp.ts';
import { encryptSeed, keyringFrom } from '../../src/authn/seed-crypto.ts';
import { allowSubnet } from '../../src/authn/subnets.ts';
import { issueAccessToken, revokeCredential } from '../../src/authn/tokens.ts';
import type { DomainEvent } from '../../src/events/catalogue.ts';
import {
  administrator,
  elevated,
  given,
  holder,
  identity,
  NOW,
  passwordSet,
  principal,
  sha256,
  unelevated,
} from '../support/decide.ts';

const MANAGE = 'authlog.principals.manage';
const HASH = `$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxMjM0NTY3OA$${'A'.repeat(43)}`;
const asManager = { role: 'pm-role', grantedBy: 'pm-role', grant: `privilege:${MANAGE}` };

/** RFC 4226 HOTP with SHA-1, written out here so the test does not check our code with itself. */
const hotp = (key: Buffer, counter: number): string => {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
};

describe('credentials and tokens: decisions', () => {
  it('a principal manager sets a password of a principal it dominates', () => {
    const outcome = given([...holder('pm', MANAGE), principal('alice')])
      .when(
        setPassword({ credentialId: 'alice-pw', principalId: 'alice', hash: HASH }),
        elevated('pm'),
      )
      .then([passwordSet('alice', 'alice-pw', HASH)]);
    assert.deepEqual(outcome.authority, [asManager]);
  });

  it('a second password of the same directory replaces the first credential’s hash', () => {
    const first: DomainEvent = passwordSet('alice', 'alice-pw', HASH);
    const outcome = given([principal('alice'), first]).when(
      setPassword({ credentialId: 'another', principalId: 'alice', hash: HASH }),
    );
    assert.equal(outcome.result?.credentialId, 'alice-pw');
  });

  it('refuses a hash that is not an argon2id PHC string', () => {
    given(principal('alice'))
      .when(setPassword({ credentialId: 'c', principalId: 'alice', hash: 'plaintext' }))
      .thenRefused('VALIDATION_FAILED');
  });

  it('a principal manager cannot set an administrator’s password (takeover)', () => {
    given([...holder('pm', MANAGE), ...administrator('root')])
      .when(setPassword({ credentialId: 'c', principalId: 'root', hash: HASH }), elevated('pm'))
      .thenRefused('FORBIDDEN');
  });

  it('what a credential directory proves reaches everyone who logs in with it', () => {
    given([...holder('pm', MANAGE), ...administrator('root'), identity('r', 'root', 'root')])
      .when(
        changeCredentialDirectory({
          directoryId: 'password',
          evidences: ['knowledge', 'ownership'],
        }),
        elevated('pm'),
      )
      .thenRefused('FORBIDDEN');
  });

  it('a principal issues itself a token from an elevated session, with no grant needed', () => {
    const outcome = given(principal('alice'))
      .when(
        issueAccessToken({
          credentialId: 't1',
          principalId: 'alice',
          name: 'ci',
          secretHash: sha256('secret'),
          days: 30,
          subnets: [' 10.0.0.0/8 '],
        }),
        elevated('alice'),
      )
      .then([
        {
          type: 'AccessTokenIssued',
          data: {
            credentialId: 't1',
            principalId: 'alice',
            name: 'ci',
            secretHash: sha256('secret'),
            expiresAt: new Date(NOW + 30 * 86_400_000).toISOString(),
            subnets: ['10.0.0.0/8'],
          },
        },
      ]);
    assert.equal(outcome.authority, undefined);
  });

  it('a token never issues a token (no elevation without a session)', () => {
    given(principal('alice'))
      .when(
        issueAccessToken({
          credentialId: 't',
          principalId: 'alice',
          name: 'x',
          secretHash: sha256('s'),
        }),
        { actor: 'alice', credential: 'token' },
      )
      .thenRefused('ELEVATION_REQUIRED');
  });

  it('revokes a token once', () => {
    const issued: DomainEvent = {
      type: 'AccessTokenIssued',
      data: {
        credentialId: 't1',
        principalId: 'alice',
        name: 'ci',
        secretHash: sha256('secret'),
        expiresAt: new Date(NOW + 86_400_000).toISOString(),
        subnets: [],
      },
    };
    given([principal('alice'), issued])
      .when(revokeCredential({ credentialId: 't1', reason: 'leaked' }), elevated('alice'))
      .then([{ type: 'CredentialRevoked', data: { credentialId: 't1', reason: 'leaked' } }]);
    given([
      principal('alice'),
      issued,
      { type: 'CredentialRevoked', data: { credentialId: 't1', reason: '' } },
    ])
      .when(revokeCredential({ credentialId: 't1' }), elevated('alice'))
      .then([]);
  });

  describe('OTP', () => {
    const keys = keyringFrom({ k1: randomBytes(32).toString('base64') });
    const seed = randomBytes(20);
    const enrolled: DomainEvent = {
      type: 'OtpEnrolled',
      data: {
        credentialId: 'otp1',
        principalId: 'alice',
        directoryId: 'otp',
        kind: 'totp',
        name: 'phone',
        digits: 6,
        algorithm: 'sha1',
        period: 30,
        counter: null,
        seed: encryptSeed(keys, 'otp1', seed),
        validUntil: null,
      },
    };
    const input = {
      credentialId: 'otp1',
      principalId: 'alice',
      kind: 'totp',
      name: 'phone',
      digits: 6,
      algorithm: 'sha1',
      period: 30,
      counter: null,
    } as const;

    it('enrolls a sealed seed for oneself from an elevated session', () => {
      if (enrolled.type !== 'OtpEnrolled') throw new Error('unreachable');
      given(principal('alice'))
        .when(enrollOtp({ ...input, seed: enrolled.data.seed }), elevated('alice'))
        .then([enrolled]);
    });

    it('judges who may enroll before what is sent (no oracle for an unelevated caller)', () => {
      given(principal('alice'))
        .when(enrollOtp({ ...input, seed: { malformed: 'not base32' } }), unelevated('alice'))
        .thenRefused('ELEVATION_REQUIRED');
      given(principal('alice'))
        .when(enrollOtp({ ...input, seed: { malformed: 'not base32' } }), elevated('alice'))
        .thenRefused('VALIDATION_FAILED');
    });

    it('the first valid code confirms the credential and is used up', () => {
      const step = Math.floor(NOW / 30_000);
      given([principal('alice'), enrolled])
        .when(confirmOtp(keys, { credentialId: 'otp1', code: hotp(seed, step) }), {
          actor: 'alice',
        })
        .then([
          { type: 'OtpConfirmed', data: { credentialId: 'otp1' } },
          { type: 'OtpUsed', data: { credentialId: 'otp1', step } },
        ]);
    });

    it('a used step is not accepted again', () => {
      const step = Math.floor(NOW / 30_000);
      given([
        principal('alice'),
        enrolled,
        { type: 'OtpUsed', data: { credentialId: 'otp1', step } },
      ])
        .when(confirmOtp(keys, { credentialId: 'otp1', code: hotp(seed, step) }), {
          actor: 'alice',
        })
        .thenRefused('OTP_CODE_INVALID');
    });
  });

  it('allows a subnet, normalized', () => {
    const outcome = given([...holder('pm', MANAGE), principal('svc', { kind: 'service' })])
      .when(
        allowSubnet({
          credentialId: 'n1',
          principalId: 'svc',
          name: 'office',
          cidrs: ['10.1.2.0/24'],
        }),
        elevated('pm'),
      )
      .then([
        {
          type: 'SubnetAllowed',
          data: {
            credentialId: 'n1',
            principalId: 'svc',
            directoryId: 'subnet',
            name: 'office',
            cidrs: ['10.1.2.0/24'],
            validUntil: null,
          },
        },
      ]);
    assert.deepEqual(outcome.authority, [asManager]);
  });
});
