// An in-process node with its HTTP app, on in-memory SQLite, for inject()-driven tests.
import { type App, buildApp } from '../../src/http/app.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { startMemoryNode, stopNode } from './in-process.ts';

export const TOKEN = 'test-operator-token-0123456789abcdef';
export const auth = { authorization: `Bearer ${TOKEN}` };

export const startApp = async (
  nodeId = 'app',
): Promise<{ app: App; node: AuthlogNode; close(): Promise<void> }> => {
  const node = await startMemoryNode(nodeId);
  const app = buildApp({ node, operatorToken: TOKEN, logger: false });
  await app.ready();
  return {
    app,
    node,
    async close() {
      await app.close();
      await stopNode(node);
    },
  };
};
