// Node B of bench:replication, in a worker thread: its own event loop, as a second node has its
// own process. In one event loop, each node's synchronous fsyncs (better-sqlite3 commits on the
// calling thread) would stall the other node too, and the lag measured would be that stall.
// Commands come from the main thread; B reports what it applied of origin `a` with timestamps
// on the clock both threads share (performance.timeOrigin + performance.now()).
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { projections } from '../../projections/index.ts';
import { seqOf } from '../../src/clock/version-vector.ts';
import { startNode } from '../../src/node/node.ts';
import { rebuildReadModel } from '../../src/node/rebuild.ts';
import { type Puller, startPuller } from '../../src/replication/puller.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { now } from './util.ts';

export type ReplicaCommand =
  | {
      readonly kind: 'pull';
      readonly url: string;
      readonly token: string;
      readonly limit: number;
      readonly waitMs: number;
    }
  | { readonly kind: 'stop-pulling' }
  | { readonly kind: 'rebuild'; readonly path: string }
  | { readonly kind: 'close' };

export type ReplicaReport =
  | { readonly kind: 'ready' }
  | { readonly kind: 'applied'; readonly seq: string; readonly at: number }
  | { readonly kind: 'done'; readonly of: ReplicaCommand['kind'] }
  | {
      readonly kind: 'rebuilt';
      readonly events: number;
      readonly ms: number;
      readonly same: boolean;
    };

const { storePath, readModelPath } = workerData as { storePath: string; readModelPath: string };
const port = parentPort;
if (!port) throw new Error('scripts/bench/replica.ts runs as a worker thread');
const send = (report: ReplicaReport) => port.postMessage(report);

const log = pino({ level: 'silent' });
const node = await startNode({
  nodeId: 'b',
  store: openSqliteStore({ path: storePath }),
  readModelPath,
  log,
});
await node.ready;

let puller: Puller | undefined;
let last = seqOf(node.projector.applied, 'a');
let watching = true;
void (async () => {
  while (watching) {
    await node.nextCommit(200);
    const seq = seqOf(node.projector.applied, 'a');
    if (seq !== last) {
      last = seq;
      send({ kind: 'applied', seq: String(seq), at: now() });
    }
  }
})();

port.on('message', (command: ReplicaCommand) => {
  void (async () => {
    switch (command.kind) {
      case 'pull':
        puller = startPuller({
          ingest: node.ingest,
          peer: { url: command.url, token: command.token },
          log,
          limit: command.limit,
          waitMs: command.waitMs,
        });
        break;
      case 'stop-pulling':
        await puller?.stop();
        puller = undefined;
        break;
      case 'rebuild': {
        const result = await rebuildReadModel({
          store: node.store,
          path: command.path,
          projections,
        });
        send({
          kind: 'rebuilt',
          events: result.events,
          ms: result.ms,
          same: result.digest === node.digest(),
        });
        return;
      }
      case 'close':
        watching = false;
        await puller?.stop();
        await node.close();
        await node.store.close();
        break;
    }
    send({ kind: 'done', of: command.kind });
  })();
});
send({ kind: 'ready' });
