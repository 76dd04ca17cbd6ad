// One authlog node: its store, its read model, the writer queue and the catch-up subscription
// wired together. The HTTP server and the CLI build on this; tests start it in-process. Callers
// get commands, queries and the small ports of ports.ts (feed, ingest, waits for applied writes,
// the time commands are stamped with), not the store, projector and writer inside.
import { randomFillSync } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { monotonicFactory } from 'ulid';
import { type Authz, createAuthz } from '../../projections/authz-engine.ts';
import { projections as allProjections } from '../../projections/index.ts';
import { createClock, DEFAULT_MAX_DRIFT_MS } from '../clock/hlc.ts';
import { encodeVector, seqOf } from '../clock/version-vector.ts';
import { familyOf } from '../events/catalogue.ts';
import { ORIGIN_STREAM_PREFIX, originStream } from '../events/envelope.ts';
import { eventHash, generateNodeKey, type NodeKey } from '../events/signature.ts';
import { type OpenReadModelOptions, openReadModel, type ReadModel } from '../readmodel/database.ts';
import { digest } from '../readmodel/digest.ts';
import type { Projection, Reader } from '../readmodel/projection.ts';
import { createProjector, type Projector } from '../readmodel/projector.ts';
import { createReader } from '../readmodel/reader.ts';
import type { EventStore } from '../store/port.ts';
import { type CatchUp, STORE_CHECKPOINT, startCatchUp } from './catch-up.ts';
import type { Command, CommandMeta } from './command.ts';
import { createCommitSignal } from './commit-signal.ts';
import { ingest } from './ingest.ts';
import type { Applied, FeedSource, Ingest, LogReader } from './ports.ts';
import { createTrust, type Founders, type Trust, type TrustSummary } from './trust.ts';
import { createWriter, type Receipt, type Writer } from './writer.ts';

export type NodeOptions = {
  readonly nodeId: string;
  readonly store: EventStore;
  readonly readModelPath: string;
  readonly projections?: readonly Projection[];
  readonly onStaleReadModel?: OpenReadModelOptions['onStale'];
  readonly maxDriftMs?: number;
  /** The node's signing key (boot/keys.ts); a fresh one when left out (tests, one-off tools). */
  readonly key?: NodeKey;
  /** The founders' public keys (the cluster file); this node alone when left out. */
  readonly founders?: Founders;
  readonly physicalMs?: () => number;
  readonly log?: Logger;
};

export type NodeStatus = {
  readonly node: string;
  readonly ready: boolean;
  readonly applied: Record<string, string>;
  readonly buffered: number;
  readonly writer: {
    readonly failed: string | null;
    readonly batches: number;
    readonly commands: number;
    readonly events: number;
  };
  readonly driftAlarms: number;
  /** The cluster as this node knows it: members, their families and removals, equivocations. */
  readonly trust: TrustSummary;
  /** The event store adapter: `sqlite` or `esdb`. */
  readonly store: string;
};

export type AuthlogNode = Applied & {
  readonly id: string;
  /** Internals, for tests and benchmarks of them; callers use the ports below. */
  readonly store: EventStore;
  readonly readModel: ReadModel;
  readonly projector: Projector;
  readonly writer: Writer;
  /** The node's log of origin streams, for the replication feed (feed.ts). */
  readonly feed: FeedSource;
  /** How pullers bring in a peer's events (puller.ts). */
  readonly ingest: Ingest;
  /** The node's log in store order (the audit trail in arrival order, accounting/arrival.ts). */
  readonly eventLog: LogReader;
  /** The physical time commands are stamped with (ms since the epoch). */
  now(): number;
  /** Queries on committed state. */
  readonly read: Reader;
  /** Authorization checks on committed state, cached until the next commit. */
  readonly authz: Authz;
  /** Who may originate what: enrollment, keys, removals (trust.ts). */
  readonly trust: Trust;
  /** The node's public key (base64url raw Ed25519). */
  readonly publicKey: string;
  readonly log: Logger;
  /** Resolves once the read model holds everything the store held at start. */
  readonly ready: Promise<void>;
  isReady(): boolean;
  execute<R>(
    command: Command<R>,
    meta: Omit<CommandMeta, 'now'> & { now?: number },
  ): Promise<Receipt<R>>;
  status(): NodeStatus;
  digest(): string;
  close(): Promise<void>;
};

// ulid's default PRNG makes one getRandomValues call per character (16 per id), a visible share of
// a command's CPU. The same CSPRNG, drawn 4 KiB at a time: each byte / 256 picks one of the 32
// characters uniformly (the low 3 bits are discarded by ulid's floor(x * 32)).
const pool = Buffer.alloc(4096);
let drawn = pool.length;
const pooledRandom = (): number => {
  if (drawn === pool.length) {
    randomFillSync(pool);
    drawn = 0;
  }
  return pool[drawn++]! / 256;
};

export const newId = monotonicFactory(pooledRandom);

export const startNode = async (options: NodeOptions): Promise<AuthlogNode> => {
  const { nodeId: id, store } = options;
  const log = options.log ?? pino({ level: 'silent' });
  const physicalMs = options.physicalMs ?? Date.now;
  const readModel = openReadModel(options.readModelPath, options.projections ?? allProjections, {
    onStale: options.onStaleReadModel ?? 'reset',
    onTorn: (path) =>
      log.warn(
        { path },
        'read model was open when the machine went down; rebuilding it from the log',
      ),
    onCorrupt: (path, damage) =>
      log.warn({ path, damage }, 'read model is damaged; rebuilding it from the log'),
  });
  let driftAlarms = 0;
  const last = await store.readStream(originStream(id), { direction: 'backwards', maxCount: 1 });
  const lastHlc = last[0]?.metadata.hlc;
  const key = options.key ?? generateNodeKey().key;
  const founders: Founders =
    options.founders ?? ((node) => (node === id ? key.publicKey : undefined));
  const clock = createClock({
    node: id,
    physicalMs,
    ...(options.maxDriftMs !== undefined ? { maxDriftMs: options.maxDriftMs } : {}),
    ...(typeof lastHlc === 'string' ? { start: lastHlc } : {}),
    onDrift: (alarm) => {
      driftAlarms += 1;
      log.warn(alarm, 'remote clock ahead of local time beyond the drift limit');
    },
  });
  let commits = 0;
  const committed = createCommitSignal();
  const read = createReader(readModel.reader);
  const trust = createTrust({ founders, read });
  // Trust is read from committed state: it is read again after a commit that changed the cluster.
  let clusterChanged = false;
  const projector = createProjector(readModel, {
    onApplied: (e) => {
      clock.receive(e.hlc);
      if (familyOf[e.type] === 'cluster') clusterChanged = true;
    },
    onCommit: () => {
      commits += 1;
      if (clusterChanged) {
        clusterChanged = false;
        trust.invalidate();
      }
      committed.fire();
    },
  });
  const writer = createWriter({
    node: id,
    store,
    projector,
    clock,
    newId: () => newId(physicalMs()),
    key,
    chainHead: last[0] ? eventHash(last[0]) : undefined,
    mayOriginate: (type, seq) => trust.mayOriginate(id, type, seq),
    onFatal: (err) => log.fatal({ err }, 'writer stopped'),
  });
  const catchUp: CatchUp = startCatchUp({
    store,
    writer,
    checkpoint: projector.checkpoint(STORE_CHECKPOINT),
    applied: projector.applied,
    log,
  });
  let ready = false;
  const readyPromise = catchUp.caughtUp.then(() => {
    ready = true;
    writer.open();
    log.info({ node: id, applied: encodeVector(projector.applied) }, 'read model caught up');
  });
  const authz = createAuthz(read, () => commits);
  // One ingest at a time: pullers of several peers check chains against the same heads.
  let ingesting: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = ingesting.then(fn, fn);
    ingesting = run.catch(() => undefined);
    return run;
  };
  const appliedVector = () => ({ ...projector.applied });
  const nextCommit = (timeoutMs: number) => committed.next(timeoutMs);
  const eventLog: LogReader = {
    readLog: ({ after, maxCount }) =>
      store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX, maxCount, ...(after ? { after } : {}) }),
  };

  return {
    id,
    store,
    readModel,
    projector,
    writer,
    feed: { ...eventLog, appliedVector, nextCommit },
    ingest: {
      checkpoint: (name) => projector.checkpoint(name),
      append: (records) =>
        serialized(() =>
          ingest(
            {
              store,
              trust,
              settle: (events) => writer.apply(events),
              now: physicalMs,
              maxDriftMs: options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS,
            },
            records,
          ),
        ),
      project: (events, checkpoint) => writer.apply(events, checkpoint),
      appliedVector,
    },
    eventLog,
    now: physicalMs,
    appliedVector,
    waitApplied: (origin, seq, timeoutMs) =>
      committed.until(() => seqOf(projector.applied, origin) >= seq, timeoutMs),
    nextCommit,
    read,
    authz,
    trust,
    publicKey: key.publicKey,
    log,
    ready: readyPromise,
    isReady: () => ready,
    execute: (command, meta) => writer.execute(command, { ...meta, now: meta.now ?? physicalMs() }),
    status: () => ({
      node: id,
      ready,
      applied: encodeVector(projector.applied),
      buffered: projector.buffered,
      writer: { failed: writer.failed?.message ?? null, ...writer.stats },
      driftAlarms,
      trust: trust.summary(),
      store: store.kind,
    }),
    digest: () => digest(readModel.reader),
    async close() {
      await catchUp.stop();
      await writer.close();
      readModel.close();
    },
  };
};
