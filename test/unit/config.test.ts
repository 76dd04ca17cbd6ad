// Threat: a production node starting with generated or missing secrets, or a misconfiguration
// going unnoticed. Configuration is validated at start, every problem named at once.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAuthConfig } from '../../src/authn/auth-config.ts';
import { ConfigError, loadConfig } from '../../src/boot/config.ts';
import { openDatabase } from '../../src/store/sqlite/schema.ts';
import { productionIdentity } from '../support/keys.ts';
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
    assert.equal(err.problems.length, 4);
    assert.match(err.message, /AUTHLOG_NODE_KEY/);
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
      ...productionIdentity('site-a'),
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

// Threat: a data folder restarted under another node id (issue 14, row 12). Started with
// AUTHLOG_NODE_ID=acc-a and restarted without it, the folder came up silently as a new origin
// `node-…`, and origin acc-a had no writer any more; restarted under acc-b it would do the same.
describe('the node id a data folder remembers', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir('config-node-id');
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach(removeDir));

  const refusal = (env: Record<string, string>): ConfigError => {
    try {
      loadConfig(env);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    assert.fail('started');
  };

  /** An event log as an older authlog left it: events of these origins, no node-id file. */
  const olderFolder = (...origins: string[]) => {
    const d = dir();
    const db = openDatabase(join(d, 'events.sqlite'), 'FULL', 1000);
    const insert = db.prepare(
      "INSERT INTO events (stream, revision, id, type, data, metadata) VALUES (?, ?, ?, 'T', '{}', '{}')",
    );
    for (const origin of origins)
      for (const revision of [0, 1])
        insert.run(`origin-${origin}`, revision, `${origin}-${revision}`);
    db.close();
    return d;
  };

  it('row 12: a folder first started with AUTHLOG_NODE_ID is that node when restarted without it', () => {
    const d = dir();
    assert.equal(loadConfig({ AUTHLOG_DATA_DIR: d, AUTHLOG_NODE_ID: 'acc-a' }).nodeId, 'acc-a');
    assert.equal(readFileSync(join(d, 'node-id'), 'utf8').trim(), 'acc-a');
    assert.equal(statSync(join(d, 'node-id')).mode & 0o777, 0o600);
    assert.equal(loadConfig({ AUTHLOG_DATA_DIR: d }).nodeId, 'acc-a');
  });

  it('refuses to start under another id than the remembered one, naming both', () => {
    const d = dir();
    loadConfig({ AUTHLOG_DATA_DIR: d, AUTHLOG_NODE_ID: 'acc-a' });
    const err = refusal({ AUTHLOG_DATA_DIR: d, AUTHLOG_NODE_ID: 'acc-b' });
    assert.equal(err.problems.length, 1);
    assert.match(err.message, /AUTHLOG_NODE_ID is "acc-b" but the data folder .* node "acc-a"/);
    assert.equal(readFileSync(join(d, 'node-id'), 'utf8').trim(), 'acc-a', 'still remembered');
    // A generated id is remembered the same way.
    const g = dir();
    const generated = loadConfig({ AUTHLOG_DATA_DIR: g }).nodeId;
    assert.match(
      refusal({ AUTHLOG_DATA_DIR: g, AUTHLOG_NODE_ID: 'acc-b' }).message,
      new RegExp(generated),
    );
    assert.equal(loadConfig({ AUTHLOG_DATA_DIR: g, AUTHLOG_NODE_ID: generated }).nodeId, generated);
  });

  it('production uses the remembered id when AUTHLOG_NODE_ID is unset', () => {
    const d = dir();
    const env = {
      AUTHLOG_DATA_DIR: d,
      AUTHLOG_MODE: 'production',
      AUTHLOG_OPERATOR_TOKEN: 'x'.repeat(40),
      AUTHLOG_TOTP_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
      ...productionIdentity('site-a'),
    };
    assert.match(refusal(env).message, /production mode needs AUTHLOG_NODE_ID/);
    loadConfig({ ...env, AUTHLOG_NODE_ID: 'site-a' });
    assert.equal(loadConfig(env).nodeId, 'site-a');
  });

  it('an older folder with a log but no node-id file: no guessing, only one of its origins', () => {
    const d = olderFolder('acc-a', 'peer-x');
    const unset = refusal({ AUTHLOG_DATA_DIR: d });
    assert.match(unset.message, /does not remember its node id .* "acc-a", "peer-x"/);
    assert.throws(() => statSync(join(d, 'node-id')), /ENOENT/, 'nothing remembered');
    const other = refusal({ AUTHLOG_DATA_DIR: d, AUTHLOG_NODE_ID: 'acc-b' });
    assert.match(other.message, /none of "acc-b"/);
    assert.equal(loadConfig({ AUTHLOG_DATA_DIR: d, AUTHLOG_NODE_ID: 'acc-a' }).nodeId, 'acc-a');
    assert.equal(loadConfig({ AUTHLOG_DATA_DIR: d }).nodeId, 'acc-a', 'remembered from then on');
    // An empty log, or none, is a new node: its id is generated and remembered.
    const empty = olderFolder();
    const id = loadConfig({ AUTHLOG_DATA_DIR: empty }).nodeId;
    assert.equal(readFileSync(join(empty, 'node-id'), 'utf8').trim(), id);
  });

  it('refuses a node-id file that holds no valid id', () => {
    const d = dir();
    writeFileSync(join(d, 'node-id'), 'Not An Id\n');
    assert.match(refusal({ AUTHLOG_DATA_DIR: d }).message, /does not hold a valid node id/);
  });
});
