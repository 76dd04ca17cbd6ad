// Threat: weak passwords let in through a deployment's settings, or a policy that pushes users to
// weaker ones. A deployment may raise the minimum, lower the maximum (not below 64), turn the
// common-password list off, and add its own list; it may not go below 8 characters (NIST SP
// 800-63B rev 4 3.1.1.2 "SHALL require … a minimum of eight characters"), and there are no
// composition rules or forced rotation to configure at all (rev 4 3.1.1.2 "SHALL NOT impose
// other composition rules … SHALL NOT require … periodically"). A setting out of bounds refuses
// to start with a message that names it, in the loader and in a real `authlog serve` process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parsePasswordPolicy } from '../../src/authn/auth-config.ts';
import { checkNewPassword, DEFAULT_PASSWORD_POLICY } from '../../src/authn/passwords.ts';
import { ConfigError, loadConfig } from '../../src/boot/config.ts';
import { AppError } from '../../src/errors.ts';
import { listenApp } from '../support/app.ts';
import { createUser, http, operator } from '../support/auth.ts';
import { CLI, ROOT, removeDir, tempDir } from '../support/process.ts';

const refused = (password: string, policy = DEFAULT_PASSWORD_POLICY): string | undefined => {
  try {
    checkNewPassword(password, policy);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'VALIDATION_FAILED');
    return err.message;
  }
};

const policyOf = (env: Record<string, string>) => {
  const problems: string[] = [];
  const policy = parsePasswordPolicy((name) => env[name], problems);
  return { policy, problems };
};

describe('password policy settings', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDir('pwpolicy');
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach(removeDir));

  it('defaults: 8 to 1024 code points, the common-password list on, no composition rule', () => {
    assert.match(refused('short12') ?? '', /at least 8/);
    assert.match(refused('password1') ?? '', /commonly used/);
    // No composition rules: all lower case, all digits, all the same class are accepted.
    assert.equal(refused('correct horse battery staple'), undefined);
    assert.equal(refused('8204619375'), undefined);
    assert.equal(refused('ééééééééé'), undefined);
    assert.match(refused('x'.repeat(1025)) ?? '', /at most 1024/);
  });

  it('a deployment raises the minimum, lowers the maximum, adds its own list', () => {
    const d = dir();
    const file = join(d, 'blocklist.txt');
    writeFileSync(
      file,
      '# our names\nAcmeCorp2026\n\nWinter-Is-Coming\r\nＦＵＬＬＷＩＤＴＨ１２３\n',
    );
    const { policy, problems } = policyOf({
      AUTHLOG_PASSWORD_MIN_LENGTH: '12',
      AUTHLOG_PASSWORD_MAX_LENGTH: '64',
      AUTHLOG_PASSWORD_BLOCKLIST_FILE: file,
    });
    assert.deepEqual(problems, []);
    assert.equal(policy.minLength, 12);
    assert.match(refused('elevenchars', policy) ?? '', /at least 12/);
    assert.match(refused('y'.repeat(65), policy) ?? '', /at most 64/);
    // Compared after NFKC and case folding, like the built-in list.
    assert.match(refused('acmecorp2026', policy) ?? '', /forbidden/);
    assert.match(refused('winter-is-coming', policy) ?? '', /forbidden/);
    assert.match(refused('fullwidth123', policy) ?? '', /forbidden/);
    assert.equal(refused('# our own names', policy), undefined, 'comment lines are not entries');
    assert.equal(refused('a long and unlisted passphrase', policy), undefined);
  });

  it('the common-password list can be turned off (a deployment screening elsewhere)', () => {
    const { policy, problems } = policyOf({ AUTHLOG_PASSWORD_BLOCKLIST: 'off' });
    assert.deepEqual(problems, []);
    assert.equal(refused('password1', policy), undefined);
  });

  it('invalid settings are each named, and the loader refuses to start', () => {
    const d = dir();
    const empty = join(d, 'empty.txt');
    writeFileSync(empty, '# nothing but a comment\n\n');
    const latin1 = join(d, 'latin1.txt');
    writeFileSync(latin1, Buffer.from([0x70, 0x61, 0x73, 0x73, 0xe9, 0x0a]));
    const cases: [Record<string, string>, RegExp][] = [
      [{ AUTHLOG_PASSWORD_MIN_LENGTH: '7' }, /MIN_LENGTH must be .* from 8 .*never below 8/],
      [{ AUTHLOG_PASSWORD_MIN_LENGTH: 'eight' }, /MIN_LENGTH must be a whole number/],
      [{ AUTHLOG_PASSWORD_MAX_LENGTH: '63' }, /MAX_LENGTH must be .* from 64/],
      [{ AUTHLOG_PASSWORD_MAX_LENGTH: '5000' }, /MAX_LENGTH must be .* to 1024/],
      [
        { AUTHLOG_PASSWORD_MIN_LENGTH: '100', AUTHLOG_PASSWORD_MAX_LENGTH: '64' },
        /MIN_LENGTH \(100\) is above AUTHLOG_PASSWORD_MAX_LENGTH \(64\)/,
      ],
      [{ AUTHLOG_PASSWORD_BLOCKLIST: 'yes' }, /BLOCKLIST must be on or off/],
      [{ AUTHLOG_PASSWORD_BLOCKLIST_FILE: join(d, 'missing.txt') }, /cannot read .*ENOENT/],
      [{ AUTHLOG_PASSWORD_BLOCKLIST_FILE: empty }, /lists no password/],
      [{ AUTHLOG_PASSWORD_BLOCKLIST_FILE: latin1 }, /not UTF-8/],
    ];
    for (const [env, message] of cases) {
      assert.match(policyOf(env).problems.join('\n'), message, JSON.stringify(env));
      assert.throws(
        () => loadConfig({ AUTHLOG_DATA_DIR: dir(), ...env }),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    }
  });

  it('a node process with a minimum below 8 exits before listening, naming the setting', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'serve', '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, AUTHLOG_DATA_DIR: dir(), AUTHLOG_PASSWORD_MIN_LENGTH: '6' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.notEqual(r.status, 0, 'the node started');
    assert.match(`${r.stdout}${r.stderr}`, /AUTHLOG_PASSWORD_MIN_LENGTH/);
  });

  it('the policy applies to every way a password is set over HTTP', async () => {
    const ctx = await listenApp('pwpolicy', {
      auth: {
        passwordPolicy: {
          ...DEFAULT_PASSWORD_POLICY,
          minLength: 14,
          blocklist: new Set(['acme acme acme']),
        },
      },
    });
    try {
      const h = http(ctx.port);
      const id = await createUser(h, 'pat', undefined);
      for (const [password, code] of [
        ['thirteen char', 400],
        ['ACME ACME ACME', 400],
        ['fourteen chars', 200],
      ] as const) {
        const r = await h.request('PUT', `/v1/principals/${id}/password`, {
          headers: operator,
          body: { password },
        });
        assert.equal(r.status, code, `${password}: ${r.text}`);
        if (code === 400) assert.equal(r.body.code, 'VALIDATION_FAILED');
      }
      const login = await h.request('POST', '/v1/auth/login', {
        body: { identity: 'pat', password: 'fourteen chars', transport: 'bearer' },
      });
      assert.equal(login.status, 200, login.text);
      const change = await h.request('POST', '/v1/auth/password', {
        headers: { authorization: `Bearer ${String(login.body.token)}` },
        body: { currentPassword: 'fourteen chars', newPassword: 'short but ok?' },
      });
      assert.equal(change.status, 400, change.text);
      assert.match(String(change.body.detail), /at least 14/);
    } finally {
      await ctx.close();
    }
  });
});
