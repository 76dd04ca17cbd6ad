// Starts a node and its HTTP server from configuration: what `authlog serve` and `npm start` run.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import { INTERNAL_DIRECTORY } from '../../projections/identities.ts';
import { anyPrincipalButAnonymous } from '../../projections/principals.ts';
import { registerPrincipal } from '../authn/principals.ts';
import { keyringFrom } from '../authn/seed-crypto.ts';
import { addRoleMember } from '../authz/commands.ts';
import { seqOf } from '../clock/version-vector.ts';
import { OidcService } from '../directories/oidc.ts';
import { startRoleRefresh } from '../directories/refresh.ts';
import { DirectoryService } from '../directories/service.ts';
import { buildApp } from '../http/app.ts';
import { createLogger } from '../http/logging.ts';
import type { App } from '../http/types.ts';
import { acquireLock } from '../node/lock.ts';
import { type AuthlogNode, newId, startNode } from '../node/node.ts';
import { recordRefusal } from '../replication/cluster.ts';
import { type Peer, type Puller, startPuller } from '../replication/puller.ts';
import { foundersOf } from './cluster.ts';
import { type Config, ConfigError } from './config.ts';
import { openStore } from './open-store.ts';
import { loadPeers, plainHttpPeers } from './peers.ts';

export type RunningServer = {
  readonly app: App;
  readonly node: AuthlogNode;
  readonly url: string;
  stop(): Promise<void>;
};

/** On a node's very first start with an empty read model, create an administrator. */
const bootstrapAdministrator = async (
  node: AuthlogNode,
  config: Config,
  say: (line: string) => void,
) => {
  // Called once the read model holds the whole log: it has applied every event of its own origin.
  const own = seqOf(node.appliedVector(), node.id);
  if (own > 0n || anyPrincipalButAnonymous(node.read)) return;
  const { principalId } = (
    await node.execute(
      registerPrincipal({
        principalId: newId(),
        kind: 'person',
        briefName: 'admin',
        fullName: 'Administrator',
        identity: { identityId: newId(), directoryId: INTERNAL_DIRECTORY, name: 'admin' },
      }),
      { actor: 'system', correlationId: 'bootstrap' },
    )
  ).result;
  await node.execute(addRoleMember({ roleId: ADMINISTRATORS_ROLE, principalId }), {
    actor: 'system',
    correlationId: 'bootstrap',
  });
  say(
    `Created the administrator (role administrators): principal ${principalId}, identity "admin" in directory "internal".`,
  );
  say(
    `Give it a password with "authlog credential set-password ${principalId}" (reads stdin), then POST /v1/auth/login.`,
  );
  say(
    `The CLI and scripts use the operator token as "Authorization: Bearer <token>" — find it in ${config.secretsSource === 'environment' ? 'AUTHLOG_OPERATOR_TOKEN' : config.secretsSource}.`,
  );
};

// TLS 1.2 at least (OWASP ASVS 9.1.2); with a client CA, every client proves who it is (9.2.1),
// and with CRLs OpenSSL refuses a revoked client certificate in the handshake (RFC 5280 6.3).
const serverTls = (
  server: { cert: string; key: string },
  clientCa: string | undefined,
  crl: string | undefined,
) => ({
  cert: server.cert,
  key: server.key,
  minVersion: 'TLSv1.2' as const,
  ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  ...(clientCa && crl ? { crl } : {}),
});

/**
 * Plain http to a peer on another host sends a token that reads the whole log, and the log's
 * PII, in clear. Production refuses to start with such a peer rather than warn: a warning in a
 * log nobody reads protects nothing, and a TLS-terminating sidecar on loopback stays possible
 * (OWASP ASVS 9.1.1, 9.2.2). Development warns, for clusters on one machine or a lab network.
 */
const checkPeerTransport = (peers: readonly Peer[], config: Config, log: Logger) => {
  const plain = plainHttpPeers(peers);
  if (plain.length === 0) return;
  if (config.mode === 'production')
    throw new ConfigError(
      plain.map((u) => `peer ${u}: production pulls from non-loopback peers over https only`),
    );
  log.warn({ peers: plain }, 'pulling from peers over plain http: use https outside a lab');
};

export const startServer = async (
  config: Config,
  options: { bootstrapAdmin?: boolean; say?: (line: string) => void } = {},
): Promise<RunningServer> => {
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  // Secrets never reach the log, whatever a future log line includes (OWASP ASVS 7.1.1).
  const log = createLogger(config.logLevel);
  const release = acquireLock(config.dataDir);
  const server = config.tls.server;
  try {
    const peers = loadPeers(config.dataDir);
    checkPeerTransport(peers, config, log);
    const pullers: Puller[] = [];
    const store = openStore(config.store);
    const node = await startNode({
      nodeId: config.nodeId,
      store,
      readModelPath: config.readModelPath,
      maxDriftMs: config.maxDriftMs,
      key: config.cluster.key,
      founders: foundersOf(config.cluster.founders),
      ...(config.cluster.keyStore ? { keyStore: config.cluster.keyStore } : {}),
      log,
    });
    // External LDAP / AD directories: settings from the log, secrets and this site's servers from
    // this node's environment; offline verifiers in a file of this node's own.
    const directories = new DirectoryService({
      env: (name) => process.env[name],
      offlineCachePath: join(config.dataDir, 'directory-cache.sqlite'),
      argon2: config.auth.argon2,
      log,
    });
    const roleRefresh = startRoleRefresh(node, directories, log);
    const app = buildApp({
      node,
      directories,
      // OpenID Connect / social logins: client secrets and this node's callbacks from its
      // environment (AUTHLOG_OIDC_<ID>_*, src/directories/oidc-env.ts).
      oidc: new OidcService({ env: (name) => process.env[name], log }),
      operatorToken: config.secrets.operatorToken,
      logger: log,
      edge: config.http,
      auth: { ...config.auth, outboxDir: join(config.dataDir, 'outbox') },
      webauthn: config.webauthn,
      peers: () => pullers.map((p) => p.status()),
      otpKeys: keyringFrom(config.secrets.totpKeys),
      ...(server ? { tls: serverTls(server, config.tls.clientCa, config.tls.clientCrl) } : {}),
      ...(config.tls.clientCertCa ? { clientCertificateCas: config.tls.clientCertCa } : {}),
    });
    // Fastify names the scheme from its own `https` option; ours goes through serverFactory.
    const listening = await app.listen({ host: config.host, port: config.port });
    const url = server ? listening.replace(/^http:/, 'https:') : listening;
    say(`authlog node ${node.id} (${config.mode}) listening on ${url}, data in ${config.dataDir}`);
    await node.ready;
    // The first administrator comes with the cluster, from a founder: a node that joins one gets
    // its administrators by replication.
    const founder = config.cluster.founders.some((f) => f.nodeId === node.id);
    if ((options.bootstrapAdmin ?? true) && founder)
      await bootstrapAdministrator(node, config, say);
    else if (!founder && node.trust.member(node.id) === undefined)
      say(
        `node ${node.id} is not enrolled yet: on a member, an administrator runs "authlog cluster enroll ${node.id} --public-key ${node.publicKey} --families …"; until its enrollment arrives here this node takes no writes`,
      );
    const peerTls = {
      ...(config.tls.peerCa ? { ca: config.tls.peerCa } : {}),
      ...(server ? { cert: server.cert, key: server.key } : {}),
    };
    for (const peer of peers)
      pullers.push(
        startPuller({
          ingest: node.ingest,
          peer,
          log,
          tls: peerTls,
          refusedRetryMs: config.peerRefusedRetryMs,
          onRefused: async (from, refusal) => {
            await node.execute(recordRefusal(from, refusal), { actor: 'system' });
          },
        }),
      );
    if (peers.length > 0) say(`pulling from ${peers.map((p) => p.url).join(', ')}`);
    say(`ready: ${JSON.stringify(node.status().applied)}`);
    return {
      app,
      node,
      url,
      async stop() {
        await Promise.all(pullers.map((p) => p.stop()));
        await app.close();
        roleRefresh.stop();
        await directories.close();
        await node.close();
        await store.close();
        release();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
};
