// No Docker engine runs where the tests run, so docker-compose.yml is checked by reading it:
// the two sites' services, pinned images, ports, health checks and start order, secrets taken
// from the environment, each authlog node on its own site's EventStoreDB over TLS, and the two
// authlog nodes peered with each other. The environment each authlog node would get is fed to
// the node's own configuration loader, so a setting it would refuse fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/boot/config.ts';
import { loadPeers } from '../../src/boot/peers.ts';
import { productionIdentity, testKey } from '../support/keys.ts';
import { removeDir, tempDir } from '../support/process.ts';

type Service = {
  image?: string;
  command?: unknown;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
};
type Compose = { services: Record<string, Service>; volumes: Record<string, unknown> };

const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), {
  merge: true,
}) as Compose;
const service = (name: string): Service => {
  const found = compose.services[name];
  assert.ok(found, `no service ${name}`);
  return found;
};
const env = (name: string) => service(name).environment ?? {};

const SITES = [
  { site: 'a', esdb: 'esdb-a', authlog: 'authlog-a', peer: 'authlog-b', nodePort: '8080' },
  { site: 'b', esdb: 'esdb-b', authlog: 'authlog-b', peer: 'authlog-a', nodePort: '8081' },
] as const;

// What `docker compose` does to values: ${VAR}, ${VAR:?message}, ${VAR:-default}, and $$.
const interpolate = (value: string, vars: Record<string, string>): string =>
  value
    .replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_, name: string, kind?: string, arg?: string) => {
      const set = vars[name];
      if (set !== undefined && set !== '') return set;
      if (kind === '?') throw new Error(`${name} is required: ${arg}`);
      return kind === '-' ? (arg ?? '') : '';
    })
    .replaceAll('$$', '$');

/** Names of the variables a value takes from the environment. */
const variables = (value: string) => [...value.matchAll(/\$\{(\w+)/g)].map((m) => m[1]!);

describe('docker-compose.yml', () => {
  it('has two sites, each an EventStoreDB node and an authlog node, plus one-off setup', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), [
      'authlog-a',
      'authlog-b',
      'certs',
      'deps',
      'esdb-a',
      'esdb-b',
    ]);
  });

  it('pins its images (no :latest, no untagged images)', () => {
    for (const { esdb, authlog } of SITES) {
      assert.match(service(esdb).image ?? '', /^eventstore\/eventstore:24\.10(\.\d+)?$/);
      assert.equal(service(authlog).image, 'node:20-bookworm');
    }
    assert.match(service('certs').image ?? '', /^eventstore\/es-gencert-cli:\d+\.\d+\.\d+$/);
    for (const [name, s] of Object.entries(compose.services)) {
      assert.match(s.image ?? '', /:[\w.-]+$/, `${name} has no tag`);
      assert.doesNotMatch(s.image ?? '', /:latest$/, `${name} uses :latest`);
    }
  });

  it('publishes ports on the loopback interface only, without collisions', () => {
    const published = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    for (const p of published) assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `${p} is not loopback`);
    const hostPorts = published.map((p) => p.split(':')[1]);
    assert.equal(new Set(hostPorts).size, hostPorts.length, 'two services share a host port');
    for (const { esdb, authlog, nodePort } of SITES) {
      assert.deepEqual(service(authlog).ports, [`127.0.0.1:${nodePort}:8080`]);
      assert.equal(service(esdb).ports?.length, 1);
      assert.match(service(esdb).ports![0]!, /:2113$/);
    }
  });

  it('health-checks every long-running service and starts each only when its dependencies are ready', () => {
    for (const { esdb, authlog } of SITES) {
      for (const name of [esdb, authlog]) {
        const test = service(name).healthcheck?.test ?? [];
        assert.ok(test.length > 1 && /^CMD/.test(test[0]!), `${name} has no health check`);
      }
      assert.match(
        service(esdb).healthcheck!.test!.join(' '),
        /https:\/\/localhost:2113\/health\/live/,
      );
      assert.match(service(authlog).healthcheck!.test!.join(' '), /\/health/);
      assert.deepEqual(service(authlog).depends_on, {
        deps: { condition: 'service_completed_successfully' },
        [esdb]: { condition: 'service_healthy' },
      });
      assert.deepEqual(service(esdb).depends_on, {
        certs: { condition: 'service_completed_successfully' },
      });
    }
  });

  it('keeps data in named volumes, one per node', () => {
    const declared = Object.keys(compose.volumes);
    for (const { esdb, authlog } of SITES) {
      const esdbData = service(esdb).volumes?.find((v) => v.endsWith(':/var/lib/eventstore'));
      const authlogData = service(authlog).volumes?.find((v) => v.endsWith(':/data'));
      assert.ok(esdbData && authlogData, `${esdb} or ${authlog} keeps no data volume`);
      for (const v of [esdbData, authlogData]) assert.ok(declared.includes(v.split(':')[0]!), v);
      assert.equal(env(authlog).AUTHLOG_DATA_DIR, '/data');
    }
    const data = SITES.flatMap(({ esdb, authlog }) =>
      [esdb, authlog].map((n) =>
        service(n).volumes!.find((v) => /:\/(data|var\/lib\/eventstore)$/.test(v)),
      ),
    );
    assert.equal(new Set(data).size, data.length, 'two nodes share a data volume');
  });

  it('takes every secret from the environment, never from the file', () => {
    const secretKeys = [
      'AUTHLOG_OPERATOR_TOKEN',
      'AUTHLOG_TOTP_KEYS',
      'AUTHLOG_PEER_TOKEN',
      'EVENTSTORE_DEFAULT_ADMIN_PASSWORD',
    ];
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (secretKeys.includes(key)) {
          assert.match(
            value,
            /^\$\{\w+(:\?[^}]+)?\}$/,
            `${name}.${key} is not taken from the environment`,
          );
        }
      }
    }
    for (const { authlog } of SITES) {
      const cs = env(authlog).ESDB_CONNECTION_STRING ?? '';
      assert.match(
        cs,
        /^esdb:\/\/admin:\$\{\w+\}@/,
        `${authlog}'s store password is not from the environment`,
      );
    }
    // The two sites do not share operator tokens or store passwords.
    assert.notEqual(
      env('authlog-a').AUTHLOG_OPERATOR_TOKEN,
      env('authlog-b').AUTHLOG_OPERATOR_TOKEN,
    );
    assert.notEqual(
      env('esdb-a').EVENTSTORE_DEFAULT_ADMIN_PASSWORD,
      env('esdb-b').EVENTSTORE_DEFAULT_ADMIN_PASSWORD,
    );
  });

  it('runs EventStoreDB with TLS, each node with its own certificate from the certs service', () => {
    for (const { esdb } of SITES) {
      const e = env(esdb);
      assert.equal(e.EVENTSTORE_INSECURE, 'false');
      assert.equal(e.EVENTSTORE_CERTIFICATE_FILE, `/certs/${esdb}/node.crt`);
      assert.equal(e.EVENTSTORE_CERTIFICATE_PRIVATE_KEY_FILE, `/certs/${esdb}/node.key`);
      assert.equal(e.EVENTSTORE_TRUSTED_ROOT_CERTIFICATES_PATH, '/certs/ca');
      assert.ok(service(esdb).volumes?.includes('certs:/certs:ro'), `${esdb} does not mount certs`);
      // Its certificate names the host clients use, and localhost for the health check.
      assert.match(String(service('certs').command), new RegExp(`for node in [^;]*\\b${esdb}\\b`));
    }
    assert.match(String(service('certs').command), /-dns-names \$\$node,localhost/);
  });

  describe('each authlog node, configured as docker compose would configure it', () => {
    const dirs: string[] = [];
    after(() => dirs.forEach(removeDir));
    const dir = () => {
      const made = tempDir('compose');
      dirs.push(made);
      return made;
    };
    const vars = {
      SITE_A_OPERATOR_TOKEN: 'a'.repeat(43),
      SITE_B_OPERATOR_TOKEN: 'b'.repeat(43),
      SITE_A_ESDB_PASSWORD: 'pw-a',
      SITE_B_ESDB_PASSWORD: 'pw-b',
      AUTHLOG_TOTP_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
      SITE_A_NODE_KEY: productionIdentity('site-a-1').AUTHLOG_NODE_KEY!,
      SITE_B_NODE_KEY: productionIdentity('site-b-1').AUTHLOG_NODE_KEY!,
      SITE_A_NODE_PUBLIC_KEY: testKey('site-a-1').publicKey,
      SITE_B_NODE_PUBLIC_KEY: testKey('site-b-1').publicKey,
    };
    const resolved = (name: string) =>
      Object.fromEntries(Object.entries(env(name)).map(([k, v]) => [k, interpolate(v, vars)]));

    for (const { site, esdb, authlog, peer } of SITES) {
      it(`${authlog}: production mode on its own site's EventStoreDB over TLS`, () => {
        const e = resolved(authlog);
        const config = loadConfig({
          ...e,
          AUTHLOG_DATA_DIR: dir(),
        });
        assert.equal(config.mode, 'production');
        assert.equal(config.nodeId, `site-${site}-1`);
        assert.equal(config.store.kind, 'esdb');
        const cs = config.store.kind === 'esdb' ? config.store.connectionString : '';
        const url = new URL(cs.replace(/^esdb:/, 'http:'));
        assert.equal(url.host, `${esdb}:2113`);
        assert.equal(url.searchParams.get('tls'), 'true');
        assert.equal(url.searchParams.get('tlsCAFile'), '/certs/ca/ca.crt');
        assert.equal(
          url.password,
          vars[`SITE_${site.toUpperCase()}_ESDB_PASSWORD` as keyof typeof vars],
        );
        assert.ok(
          service(authlog).volumes?.includes('certs:/certs:ro'),
          'no CA certificate mounted',
        );
      });

      it(`${authlog}: peered with ${peer}, with the peer's token`, () => {
        const e = resolved(authlog);
        const peers = loadPeers(dir(), e);
        assert.deepEqual(peers, [
          { url: `http://${peer}:8080`, token: resolved(peer).AUTHLOG_OPERATOR_TOKEN },
        ]);
        assert.deepEqual(
          variables(env(authlog).AUTHLOG_PEER_TOKEN ?? ''),
          variables(env(peer).AUTHLOG_OPERATOR_TOKEN ?? ''),
        );
      });
    }

    it('one site bootstraps the administrator; the other receives it by replication', () => {
      assert.equal(env('authlog-a').AUTHLOG_BOOTSTRAP_ADMIN, undefined);
      assert.equal(env('authlog-b').AUTHLOG_BOOTSTRAP_ADMIN, 'false');
    });

    it('refuses to start without its secrets', () => {
      assert.throws(
        () => interpolate(env('authlog-a').AUTHLOG_OPERATOR_TOKEN ?? '', {}),
        /SITE_A_OPERATOR_TOKEN is required/,
      );
      assert.throws(
        () => interpolate(env('esdb-b').EVENTSTORE_DEFAULT_ADMIN_PASSWORD ?? '', {}),
        /SITE_B_ESDB_PASSWORD is required/,
      );
    });
  });
});
