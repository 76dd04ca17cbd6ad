// A TCP proxy in front of a node, one per directed replication link, that a test can cut (every
// connection dropped, new ones refused) and heal: a network partition without namespaces.
import { connect, createServer, type Socket } from 'node:net';

export type LinkProxy = {
  readonly port: number;
  cut(): void;
  heal(): void;
  readonly isCut: boolean;
  close(): Promise<void>;
};

export const startLinkProxy = async (target: () => number): Promise<LinkProxy> => {
  const sockets = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(target(), '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    heal() {
      cut = false;
    },
    get isCut() {
      return cut;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
};

export const freePort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
};

/** For startCluster's `link` option: a cuttable proxy on every directed link, kept in `links`
 * under `from->to`. */
export const proxiedLinks =
  (links: Map<string, LinkProxy>) => async (from: number, to: number, port: number) => {
    const proxy = await startLinkProxy(() => port);
    links.set(`${from}->${to}`, proxy);
    return proxy.port;
  };
