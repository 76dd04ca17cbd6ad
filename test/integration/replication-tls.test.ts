// Threat: a replication peer that is not who its URL says (a man in the middle, a rogue host on
// the peer's address) receiving our replication token and feeding us events, or peer traffic in
// clear across a network. Pullers verify https peers against the configured CA (AUTHLOG_PEER_CA)
// and refuse anything else; production refuses plain http to non-loopback peers.
// Certificates are real: made per run with the openssl CLI (one CA we trust, one rogue CA).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { type Config, ConfigError, loadConfig } from '../../src/boot/config.ts';
import { plainHttpPeers, writePeersFile } from '../../src/boot/peers.ts';
import { type RunningServer, startServer } from '../../src/boot/server.ts';
import { coversAll } from '../../src/clock/version-vector.ts';
import { productionIdentity } from '../support/keys.ts';
import { removeDir, tempDir } from '../support/process.ts';

const TOKEN = 'tls-test-operator-token-0123456789abcdef';
const TOTP = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

const openssl = (cwd: string, ...args: string[]) =>
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

const hasOpenssl = (): boolean => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

// Without the openssl CLI there are no certificates to test with: the tests that need them are
// skipped with the reason printed, never passed silently (.ci/run installs openssl).
const NO_OPENSSL = 'the openssl CLI is not installed (Debian package openssl): no certificates';

/** A CA, and a server certificate for 127.0.0.1 signed by it. Returns the file paths. */
const makePki = (dir: string, name: string) => {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, 'req', '-x509', ...ec, '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`);
  openssl(dir, 'req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  writeFileSync(join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${name}-ca.pem`,
    '-CAkey',
    `${name}-ca.key`,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  );
  return {
    ca: join(dir, `${name}-ca.pem`),
    cert: join(dir, `${name}.pem`),
    key: join(dir, `${name}.key`),
  };
};

// openssl asks for a subject unless told; one config for every request keeps it quiet.
const subject = (dir: string) => {
  const file = join(dir, 'openssl.cnf');
  writeFileSync(
    file,
    '[req]\nprompt = no\ndistinguished_name = dn\nx509_extensions = v3_ca\n[dn]\nCN = authlog test\n[v3_ca]\nbasicConstraints = critical, CA:true\nkeyUsage = keyCertSign, cRLSign\n',
  );
  return file;
};

describe('replication over TLS', () => {
  const dirs: string[] = [];
  const servers: RunningServer[] = [];
  let pki: { trusted: ReturnType<typeof makePki>; rogue: ReturnType<typeof makePki> };
  const withOpenssl = hasOpenssl();

  before(() => {
    if (!withOpenssl) return;
    const dir = tempDir('tls-pki');
    dirs.push(dir);
    process.env.OPENSSL_CONF = subject(dir);
    pki = { trusted: makePki(dir, 'trusted'), rogue: makePki(dir, 'rogue') };
  });
  after(async () => {
    for (const s of servers.reverse()) await s.stop();
    dirs.forEach(removeDir);
    delete process.env.OPENSSL_CONF;
  });

  const start = async (
    nodeId: string,
    env: Record<string, string>,
    peers: { url: string; token: string }[] = [],
  ) => {
    const dataDir = tempDir(`tls-${nodeId}`);
    dirs.push(dataDir);
    if (peers.length > 0) writePeersFile(dataDir, peers);
    const config: Config = loadConfig({
      AUTHLOG_DATA_DIR: dataDir,
      AUTHLOG_NODE_ID: nodeId,
      AUTHLOG_PORT: '0',
      AUTHLOG_LOG_LEVEL: 'silent',
      AUTHLOG_OPERATOR_TOKEN: TOKEN,
      AUTHLOG_TOTP_KEYS: TOTP,
      // Both sites found the cluster: each checks the other's signatures.
      ...productionIdentity(nodeId, ['tls-a', 'tls-b', 'tls-rogue']),
      ...env,
    });
    const server = await startServer(config, { bootstrapAdmin: false, say: () => {} });
    servers.push(server);
    return server;
  };

  const waitFor = async (what: string, done: () => boolean) => {
    for (let i = 0; i < 1500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(done(), what);
  };

  it('two nodes replicate over https with a certificate signed by the configured CA', async (t) => {
    if (!withOpenssl) return t.skip(NO_OPENSSL);
    const a = await start('tls-a', {
      AUTHLOG_TLS_CERT: pki.trusted.cert,
      AUTHLOG_TLS_KEY: pki.trusted.key,
    });
    assert.match(a.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    await a.node.execute(
      registerPrincipal({ principalId: 'over-tls', kind: 'person', briefName: 'Ann' }),
      { actor: 'system' },
    );
    const b = await start('tls-b', { AUTHLOG_PEER_CA: pki.trusted.ca }, [
      { url: a.url, token: TOKEN },
    ]);
    await waitFor('b applied what a holds', () =>
      coversAll(b.node.projector.applied, a.node.projector.applied),
    );
    const row = b.node.read.get('SELECT brief_name FROM principals WHERE id = ?', 'over-tls');
    assert.equal(row?.brief_name, 'Ann');
    assert.equal(b.node.digest(), a.node.digest());
    // Plain http to a TLS listener gets nowhere either.
    const plain = await fetch(a.url.replace('https:', 'http:')).catch((e: unknown) => e);
    assert.ok(plain instanceof Error, 'a TLS listener answered plain http');
  });

  it('refuses a peer whose certificate the configured CA did not sign, and pulls nothing', async (t) => {
    if (!withOpenssl) return t.skip(NO_OPENSSL);
    const rogue = await start('tls-rogue', {
      AUTHLOG_TLS_CERT: pki.rogue.cert,
      AUTHLOG_TLS_KEY: pki.rogue.key,
    });
    await rogue.node.execute(
      registerPrincipal({ principalId: 'from-rogue', kind: 'person', briefName: 'Eve' }),
      { actor: 'system' },
    );
    const victim = await start('tls-victim', { AUTHLOG_PEER_CA: pki.trusted.ca }, [
      { url: rogue.url, token: TOKEN },
    ]);
    const status = () => victim.app.peers()[0];
    await waitFor('the puller reported an error', () => (status()?.error ?? null) !== null);
    assert.match(status()?.error ?? '', /certificate|self.signed|verify/i);
    assert.equal(status()?.connected, false);
    assert.equal(status()?.pulled, 0);
    assert.equal(victim.node.projector.applied['tls-rogue'], undefined);
  });

  it('production refuses plain http to a non-loopback peer before contacting it', async () => {
    // Not contacted: the check runs before any puller starts (TEST-NET-1, never routed).
    const peer = { url: 'http://192.0.2.10:8080', token: TOKEN };
    assert.deepEqual(plainHttpPeers([peer]), ['http://192.0.2.10:8080']);
    assert.deepEqual(
      plainHttpPeers([
        { url: 'http://127.0.0.1:8080', token: TOKEN },
        { url: 'http://[::1]:8080', token: TOKEN },
        { url: 'http://localhost:8080', token: TOKEN },
        { url: 'https://192.0.2.10:8443', token: TOKEN },
      ]),
      [],
    );
    await assert.rejects(
      start('tls-prod', { AUTHLOG_MODE: 'production' }, [peer]),
      (err: unknown) => err instanceof ConfigError && /https only/.test(err.message),
    );
  });

  it('names TLS settings that cannot work', (t) => {
    if (!withOpenssl) return t.skip(NO_OPENSSL);
    const dataDir = tempDir('tls-config');
    dirs.push(dataDir);
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ AUTHLOG_DATA_DIR: dataDir, ...env });
      } catch (err) {
        if (err instanceof ConfigError) return err.message;
        throw err;
      }
      return '';
    };
    assert.match(problems({ AUTHLOG_TLS_CERT: pki.trusted.cert }), /go together/);
    assert.match(
      problems({ AUTHLOG_TLS_CERT: pki.trusted.key, AUTHLOG_TLS_KEY: pki.trusted.key }),
      /AUTHLOG_TLS_CERT: .* holds no PEM/,
    );
    assert.match(problems({ AUTHLOG_PEER_CA: join(dataDir, 'missing.pem') }), /cannot read/);
  });
});
