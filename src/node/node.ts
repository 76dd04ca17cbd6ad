// One authlog node: its store, its read model, the writer queue and the catch-up subscription
// wired together. The HTTP server and the CLI build on this; tests start it in-process.
import { randomFillSync } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { monotonicFactory } from 'ulid';
import { type Authz, createAuthz } from '../../projections/authz-engine.ts';
import { projections as allProjections } from '../../projections/index.ts';
import { type Clock, createClock } from '../clock/hlc.ts';
import { encodeVector } from '../clock/version-vector.ts';
import { originStream } from '../events/envelope.ts';
import { type OpenReadModelOptions, openReadModel, type ReadModel } from '../readmodel/database.ts';
import { digest } from '../readmodel/digest.ts';
import type { Projection, Reader } from '../readmodel/projection.ts';
import { createProjector, type Projector } from '../readmodel/projector.ts';
import { createReader } from '../readmodel/reader.ts';
import type { EventStore } from '../store/port.ts';
import { type CatchUp, STORE_CHECKPOINT, startCatchUp } from './catch-up.ts';
import type { Command, CommandMeta } from './command.ts';
import { createWriter, type Receipt, type Writer } from './writer.ts';

export type NodeOptions = {
  readonly nodeId: string;
  readonly store: EventStore;
  readonly readModelPath: string;
  readonly projections?: readonly Projection[];
  readonly onStaleReadModel?: OpenReadModelOptions['onStale'];
  readonly maxDriftMs?: number;
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
};

export type AuthlogNode = {
  readonly id: string;
  readonly store: EventStore;
  readonly readModel: ReadModel;
  readonly projector: Projector;
  readonly writer: Writer;
  readonly clock: Clock;
  /** Queries on committed state. */
  readonly read: Reader;
  /** Authorization checks on committed state, cached until the next commit. */
  readonly authz: Authz;
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
  /** Resolves at the read model's next commit, or after `timeoutMs` (long-polls wait on it). */
  nextCommit(timeoutMs: number): Promise<void>;
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
  });
  let driftAlarms = 0;
  const last = await store.readStream(originStream(id), { direction: 'backwards', maxCount: 1 });
  const lastHlc = last[0]?.metadata.hlc;
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
  let waiters: (() => void)[] = [];
  const projector = createProjector(readModel, {
    onApplied: (e) => clock.receive(e.hlc),
    onCommit: () => {
      commits += 1;
      const wake = waiters;
      waiters = [];
      for (const w of wake) w();
    },
  });
  const writer = createWriter({
    node: id,
    store,
    projector,
    clock,
    newId: () => newId(physicalMs()),
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
  const read = createReader(readModel.reader);
  const authz = createAuthz(read, () => commits);

  return {
    id,
    store,
    readModel,
    projector,
    writer,
    clock,
    read,
    authz,
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
    }),
    digest: () => digest(readModel.reader),
    nextCommit: (timeoutMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          waiters = waiters.filter((w) => w !== done);
          resolve();
        }
        waiters.push(done);
      }),
    async close() {
      await catchUp.stop();
      await writer.close();
      readModel.close();
    },
  };
};
