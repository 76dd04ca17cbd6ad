// Starts a node and its HTTP server from configuration: what `authlog serve` and `npm start` run.
import { ADMINISTRATORS_ROLE } from '../../projections/authz.ts';
import { INTERNAL_DIRECTORY } from '../../projections/identities.ts';
import { registerPrincipal } from '../authn/principals.ts';
import { keyringFrom } from '../authn/seed-crypto.ts';
import { addRoleMember } from '../authz/commands.ts';
import type { Config } from '../config.ts';
import { originStream } from '../events/envelope.ts';
import { acquireLock } from '../node/lock.ts';
import { type AuthlogNode, newId, startNode } from '../node/node.ts';
import { loadPeers } from '../replication/peers.ts';
import { type Puller, startPuller } from '../replication/puller.ts';
import { openStore } from '../store/open.ts';
import { type App, buildApp } from './app.ts';
import { createLogger } from './logging.ts';

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
  const own = await node.store.streamRevision(originStream(node.id));
  const others = node.read.get("SELECT COUNT(*) AS n FROM principals WHERE id <> 'anonymous'");
  if (own !== undefined || Number(others?.n ?? 0) > 0) return;
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

export const startServer = async (
  config: Config,
  options: { bootstrapAdmin?: boolean; say?: (line: string) => void } = {},
): Promise<RunningServer> => {
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  // Secrets never reach the log, whatever a future log line includes (OWASP ASVS 7.1.1).
  const log = createLogger(config.logLevel);
  const release = acquireLock(config.dataDir);
  try {
    const peers = loadPeers(config.dataDir);
    const pullers: Puller[] = [];
    const store = openStore(config.store);
    const node = await startNode({
      nodeId: config.nodeId,
      store,
      readModelPath: config.readModelPath,
      maxDriftMs: config.maxDriftMs,
      log,
    });
    const app = buildApp({
      node,
      operatorToken: config.secrets.operatorToken,
      logger: log,
      edge: config.http,
      auth: config.auth,
      peers: () => pullers.map((p) => p.status()),
      otpKeys: keyringFrom(config.secrets.totpKeys),
    });
    const url = await app.listen({ host: config.host, port: config.port });
    say(`authlog node ${node.id} (${config.mode}) listening on ${url}, data in ${config.dataDir}`);
    await node.ready;
    if (options.bootstrapAdmin ?? true) await bootstrapAdministrator(node, config, say);
    for (const peer of peers) pullers.push(startPuller({ node, peer, log }));
    if (peers.length > 0) say(`pulling from ${peers.map((p) => p.url).join(', ')}`);
    say(`ready: ${JSON.stringify(node.status().applied)}`);
    return {
      app,
      node,
      url,
      async stop() {
        await Promise.all(pullers.map((p) => p.stop()));
        await app.close();
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
