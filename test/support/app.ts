// An in-process node with its HTTP app, on in-memory SQLite, for inject()-driven tests.
import type { Logger } from 'pino';
import { type AppOptions, buildApp } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { startMemoryNode, stopNode } from './in-process.ts';
import { soloTrust } from './keys.ts';

export const TOKEN = 'test-operator-token-0123456789abcdef';
export const auth = { authorization: `Bearer ${TOKEN}` };

/** Limits high enough that tests sending many requests are never throttled by accident. */
export const UNTHROTTLED = {
  rateLimit: { max: 1_000_000, windowMs: 60_000 },
  authRateLimit: { max: 1_000_000, windowMs: 60_000 },
} as const;

export type StartAppOptions = {
  readonly edge?: AppOptions['edge'];
  readonly sessions?: AppOptions['sessions'];
  /** Session, elevation and lockout settings (authentication tests). */
  readonly auth?: AppOptions['auth'];
  readonly logger?: Logger;
  /** The node's cluster: by default one it founded alone; tests that replicate between apps
   * pass testTrust(id) (every test node a founder). */
  readonly trust?: Parameters<typeof startMemoryNode>[1];
  /** External LDAP / AD directories (src/directories/ DirectoryService). */
  readonly directories?: AppOptions['directories'];
  /** The relying party of `oidc` directories (src/directories/oidc.ts). */
  readonly oidc?: AppOptions['oidc'];
  /** Passkey settings (default: RP ID localhost, origin http://localhost:8080). */
  readonly webauthn?: AppOptions['webauthn'];
  /** Registers extra (test-only) routes or hooks before the app is ready. */
  readonly configure?: (app: App) => void;
};

export const startApp = async (
  nodeId = 'app',
  options: StartAppOptions = {},
): Promise<{ app: App; node: AuthlogNode; close(): Promise<void> }> => {
  const node = await startMemoryNode(nodeId, options.trust ?? soloTrust(nodeId));
  const app = buildApp({
    node,
    operatorToken: TOKEN,
    logger: options.logger ?? false,
    edge: { ...UNTHROTTLED, ...options.edge },
    ...(options.sessions ? { sessions: options.sessions } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.directories ? { directories: options.directories } : {}),
    ...(options.webauthn !== undefined ? { webauthn: options.webauthn } : {}),
    ...(options.oidc ? { oidc: options.oidc } : {}),
  });
  try {
    options.configure?.(app);
    await app.ready();
  } catch (err) {
    await stopNode(node);
    throw err;
  }
  return {
    app,
    node,
    async close() {
      await app.close();
      await stopNode(node);
    },
  };
};

/** The same, listening on a loopback port: for tests that need a real socket peer. */
export const listenApp = async (
  nodeId: string,
  options: StartAppOptions & { host?: string } = {},
): Promise<{ app: App; node: AuthlogNode; port: number; close(): Promise<void> }> => {
  const started = await startApp(nodeId, options);
  await started.app.listen({ host: options.host ?? '127.0.0.1', port: 0 });
  const address = started.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { ...started, port: address.port };
};
