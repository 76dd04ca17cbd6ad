// Node B of bench:replication, in a worker thread: its own event loop, as a second node has its
// own process. In one event loop, each node's synchronous fsyncs (better-sqlite3 commits on the
// calling thread) would stall the other node too, and the lag measured would be that stall.
// Commands come from the main thread; B reports what it applied of origin `a` with timestamps
// on the clock both threads share (performance.timeOrigin + performance.now()).
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { projections } from '../../projections/index.ts';
import { seqOf } from '../../src/clock/version-vector.ts';
import { fromRecorded, originStream } from '../../src/events/envelope.ts';
import { nodeKeyFrom } from '../../src/events/signature.ts';
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
  | { readonly kind: 'verify'; readonly origin: string; readonly events: number }
  | { readonly kind: 'close' };

export type ReplicaReport =
  | { readonly kind: 'ready' }
  | { readonly kind: 'applied'; readonly seq: string; readonly at: number }
  | { readonly kind: 'done'; readonly of: ReplicaCommand['kind'] }
  | {
      readonly kind: 'rebuilt';
      readonly events: number;
      readonly ms: number;
      /** Of `ms`, checking signatures and chains. */
      readonly verifyMs: number;
      readonly same: boolean;
    }
  | {
      readonly kind: 'verified';
      readonly events: number;
      /** Microseconds per event of each pass. */
      readonly passes: readonly number[];
    };

export type ReplicaData = {
  readonly storePath: string;
  readonly readModelPath: string;
  /** B's private key (one-line PKCS#8 DER, base64) and the founders' public keys by node id. */
  readonly key: string;
  readonly founders: Readonly<Record<string, string>>;
};

const { storePath, readModelPath, key, founders } = workerData as ReplicaData;
const port = parentPort;
if (!port) throw new Error('scripts/bench/replica.ts runs as a worker thread');
const send = (report: ReplicaReport) => port.postMessage(report);

const log = pino({ level: 'silent' });
const node = await startNode({
  nodeId: 'b',
  store: openSqliteStore({ path: storePath }),
  readModelPath,
  key: nodeKeyFrom(key),
  founders: (id) => founders[id],
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
          founders: (id) => founders[id],
        });
        send({
          kind: 'rebuilt',
          events: result.events,
          ms: result.ms,
          verifyMs: result.verifyMs,
          same: result.digest === node.digest(),
        });
        return;
      }
      case 'verify': {
        // What ingest checks of each event before storing it (trust.check: the canonical
        // encoding, the Ed25519 signature, the chain, the origin's families), timed alone over
        // the first events of `origin` as B stored them, in three passes.
        const stored = await node.store.readStream(originStream(command.origin), {
          maxCount: command.events,
        });
        const events = stored.map((raw) => ({ raw, e: fromRecorded(raw, true) }));
        const passes: number[] = [];
        for (let pass = 0; pass < 3; pass++) {
          let prev: string | undefined;
          const started = performance.now();
          for (const { raw, e } of events) {
            const verdict = node.trust.check(raw, e, prev);
            if (!('hash' in verdict)) throw new Error(`B refuses ${e.origin}:${e.seq} it stored`);
            prev = verdict.hash;
          }
          passes.push(((performance.now() - started) * 1000) / events.length);
        }
        send({ kind: 'verified', events: events.length, passes });
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
