// Threat: a production node starting with generated or missing secrets, or a misconfiguration
// going unnoticed. Configuration is validated at start, every problem named at once.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAuthConfig } from '../../src/authn/auth-config.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { removeDir, tempDir } from '../support/process.ts';

describe('configuration', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir('config');
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach(removeDir));

  it('development: generates a node id and a 0600 secrets file, stable across starts', () => {
    const d = dir();
    const first = loadConfig({ AUTHLOG_DATA_DIR: d });
    assert.equal(first.mode, 'development');
    assert.match(first.nodeId, /^node-[0-9a-f]{8}$/);
    assert.equal(statSync(join(d, 'secrets.json')).mode & 0o777, 0o600);
    assert.ok(first.secrets.operatorToken.length >= 32, 'token too short');
    const second = loadConfig({ AUTHLOG_DATA_DIR: d });
    assert.equal(second.nodeId, first.nodeId);
    assert.equal(second.secrets.operatorToken, first.secrets.operatorToken);
  });

  it('production: refuses to start without secrets and node id, naming each', () => {
    const err = (() => {
      try {
        loadConfig({ AUTHLOG_DATA_DIR: dir(), AUTHLOG_MODE: 'production' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError, 'no ConfigError');
    assert.equal(err.problems.length, 3);
    assert.match(err.message, /AUTHLOG_OPERATOR_TOKEN/);
    assert.match(err.message, /AUTHLOG_TOTP_KEYS/);
    assert.match(err.message, /AUTHLOG_NODE_ID/);
  });

  it('production: starts with secrets from the environment and writes none to disk', () => {
    const d = dir();
    const config = loadConfig({
      AUTHLOG_DATA_DIR: d,
      NODE_ENV: 'production',
      AUTHLOG_NODE_ID: 'site-a',
      AUTHLOG_OPERATOR_TOKEN: 'x'.repeat(40),
      AUTHLOG_TOTP_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    });
    assert.equal(config.mode, 'production');
    assert.equal(config.secretsSource, 'environment');
    assert.throws(() => statSync(join(d, 'secrets.json')), /ENOENT/);
  });

  it('names every wrong setting at once', () => {
    assert.throws(
      () =>
        loadConfig({
          AUTHLOG_DATA_DIR: dir(),
          AUTHLOG_PORT: '99999',
          AUTHLOG_NODE_ID: 'Bad Id',
          AUTHLOG_STORE: 'mongo',
          AUTHLOG_LOG_LEVEL: 'loud',
          AUTHLOG_OPERATOR_TOKEN: 'short',
          AUTHLOG_TOTP_KEYS: 'k1:notbase64key',
        }),
      (e: unknown) => e instanceof ConfigError && e.problems.length === 6,
    );
  });

  it('self-service: registration closed by default, token lifetimes within bounds', () => {
    const problems: string[] = [];
    const defaults = parseAuthConfig(() => undefined, problems);
    assert.equal(defaults.registration, 'closed');
    assert.equal(defaults.verifyTokenS, 24 * 3600);
    assert.equal(defaults.resetTokenS, 30 * 60);
    const env: Record<string, string> = {
      AUTHLOG_REGISTRATION: 'open',
      AUTHLOG_VERIFY_TOKEN_TTL: '2h',
      AUTHLOG_RESET_TOKEN_TTL: '10m',
    };
    const set = parseAuthConfig((n) => env[n], problems);
    assert.deepEqual([set.registration, set.verifyTokenS, set.resetTokenS], ['open', 7200, 600]);
    assert.deepEqual(problems, []);
    const bad: Record<string, string> = {
      AUTHLOG_REGISTRATION: 'yes',
      AUTHLOG_VERIFY_TOKEN_TTL: '1s',
      AUTHLOG_RESET_TOKEN_TTL: '2d',
    };
    parseAuthConfig((n) => bad[n], problems);
    assert.equal(problems.length, 3, problems.join('; '));
  });
});
