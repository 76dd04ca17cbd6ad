// Threat: a deployment whose passkey settings are wrong and would only show it at the first
// ceremony, or worse, accept assertions for pages it does not serve. Invalid settings refuse to
// start, naming the setting (W3C WebAuthn Level 3 5.1.4.1: the RP ID is a valid domain, the
// origins' own or a registrable suffix of it; 13.4.9: origins are checked exactly).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWebAuthnConfig } from '../../src/authn/passkey-config.ts';

const parse = (env: Record<string, string>, mode: 'development' | 'production' = 'production') => {
  const problems: string[] = [];
  const config = parseWebAuthnConfig((n) => env[n], mode, 8080, problems);
  return { config, problems };
};

describe('passkey settings', () => {
  it('are off in production without an RP ID, and localhost in development', () => {
    assert.equal(parse({}).config, null);
    assert.deepEqual(parse({}, 'development').config?.origins, ['http://localhost:8080']);
  });

  it('take an RP ID, its origins, a name, an AAGUID allow-list and a timeout', () => {
    const { config, problems } = parse({
      AUTHLOG_WEBAUTHN_RP_ID: 'example.com',
      AUTHLOG_WEBAUTHN_ORIGINS: 'https://example.com, https://login.example.com:8443',
      AUTHLOG_WEBAUTHN_AAGUIDS: 'CB69481E-8FF7-4039-93EC-0A2729A154A8',
      AUTHLOG_WEBAUTHN_TIMEOUT: '90s',
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(config?.origins, ['https://example.com', 'https://login.example.com:8443']);
    assert.deepEqual(config?.aaguids, ['cb69481e-8ff7-4039-93ec-0a2729a154a8']);
    assert.equal(config?.timeoutMs, 90_000);
    assert.deepEqual(parse({ AUTHLOG_WEBAUTHN_RP_ID: 'example.com' }).config?.origins, [
      'https://example.com',
    ]);
  });

  it('refuse what is wrong, naming the setting', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ AUTHLOG_WEBAUTHN_RP_ID: 'https://example.com' }, /AUTHLOG_WEBAUTHN_RP_ID must be/],
      [{ AUTHLOG_WEBAUTHN_RP_ID: '10.0.0.1' }, /AUTHLOG_WEBAUTHN_RP_ID must be/],
      [{ AUTHLOG_WEBAUTHN_RP_ID: 'Example.COM' }, /AUTHLOG_WEBAUTHN_RP_ID must be/],
      [
        { AUTHLOG_WEBAUTHN_RP_ID: 'example.com', AUTHLOG_WEBAUTHN_ORIGINS: 'https://evil.com' },
        /not example.com or a subdomain/,
      ],
      [
        {
          AUTHLOG_WEBAUTHN_RP_ID: 'example.com',
          AUTHLOG_WEBAUTHN_ORIGINS: 'https://notexample.com',
        },
        /not example.com or a subdomain/,
      ],
      [
        { AUTHLOG_WEBAUTHN_RP_ID: 'example.com', AUTHLOG_WEBAUTHN_ORIGINS: 'http://example.com' },
        /must be https/,
      ],
      [
        {
          AUTHLOG_WEBAUTHN_RP_ID: 'example.com',
          AUTHLOG_WEBAUTHN_ORIGINS: 'https://example.com/login',
        },
        /must be an origin alone/,
      ],
      [
        { AUTHLOG_WEBAUTHN_RP_ID: 'example.com', AUTHLOG_WEBAUTHN_AAGUIDS: 'yubikey' },
        /AUTHLOG_WEBAUTHN_AAGUIDS/,
      ],
      [{ AUTHLOG_WEBAUTHN_RP_ID: 'example.com', AUTHLOG_WEBAUTHN_TIMEOUT: '1h' }, /TIMEOUT/],
      [{ AUTHLOG_WEBAUTHN_ORIGINS: 'https://example.com' }, /need AUTHLOG_WEBAUTHN_RP_ID/],
    ];
    for (const [env, message] of cases) {
      const { problems } = parse(env);
      assert.ok(
        problems.some((p) => message.test(p)),
        `${JSON.stringify(env)}: ${problems.join('; ')}`,
      );
    }
  });
});
