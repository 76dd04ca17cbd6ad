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
import { AppError } from '../errors.ts';
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
import { checkTail, describeBreak, type LogBreak, logBrokenProblem, trustKeys } from './chain.ts';
import type { Command, CommandMeta } from './command.ts';
import { createCommitSignal } from './commit-signal.ts';
import { ingest } from './ingest.ts';
import type { Applied, FeedSource, Ingest, LogReader } from './ports.ts';
import { reproject } from './reproject.ts';
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
  /** Where a rotation keeps the next key until its event is in the log (src/boot/cluster.ts);
   * without one the key cannot be rotated online (it comes from the environment). */
  readonly keyStore?: NodeKeyStore;
  readonly physicalMs?: () => number;
  readonly log?: Logger;
  /** How many of each origin stream's last events are checked at start (chain.ts); 64. */
  readonly tailCheck?: number;
};

/** Keeps a node's next key durably beside its current one during a rotation. */
export type NodeKeyStore = {
  /** Makes a new key and keeps it, not yet in use. */
  prepare(): NodeKey;
  /** The key prepared and not yet promoted (after a crash mid-rotation), if any. */
  pending(): NodeKey | undefined;
  /** The rotation is in the log: the prepared key becomes the node's key; the old one is gone. */
  promote(): void;
  /** The rotation was refused: the prepared key is deleted. */
  discard(): void;
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
  /** Why this node's key cannot sign its next event (not the key its cluster holds), if so. */
  readonly keyProblem: string | null;
  /** Where the event log fails its integrity check, found at start: the node is not ready. */
  readonly logBreak: LogBreak | null;
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
  /** Rotates this node's signing key: `command(next, current)` writes the rotation event (src/
   * replication/cluster.ts rotateNodeKey), signed by the current key; the new key, made by the
   * key store, signs from the next seq on. KEY_NOT_ROTATABLE without a key store. */
  rotateKey<R>(
    command: (next: string, current: string) => Command<R>,
    meta: Omit<CommandMeta, 'now'>,
  ): Promise<Receipt<R>>;
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
  // A replay in place is under way (reproject.ts): waits for applied writes hold until it ends.
  let reprojecting = false;
  let rotating = false;
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
    mayOriginate: (type, seq) => {
      if (keyProblem !== null) return new AppError('KEY_MISMATCH', keyProblem);
      const why = trust.mayOriginate(id, type, seq);
      if (why === undefined) return undefined;
      const member = trust.member(id);
      const enrolled = member !== undefined && member.removedFrom === null;
      return new AppError(enrolled ? 'FAMILY_NOT_ALLOWED' : 'NOT_ENROLLED', why);
    },
    onFatal: (err) => log.fatal({ err }, 'writer stopped'),
    reproject: async () => {
      reprojecting = true;
      const { events, ms } = await reproject({ store, readModel, projector }).finally(() => {
        reprojecting = false;
      });
      log.warn(
        { events, ms: Math.round(ms) },
        'events applied earlier became inert (an authority race or a removal): the read model was built again from the log',
      );
    },
    onKeyRotated: (next) => {
      options.keyStore?.promote();
      log.info({ node: id, publicKey: next.publicKey }, 'node key rotated');
    },
  });
  // Tamper evidence (chain.ts): the tail of every origin's chain is checked before anything is
  // applied, and the catch-up checks each event it applies. A break keeps the node from ready.
  let logBreak: LogBreak | null = null;
  const onBreak = (at: LogBreak) => {
    logBreak = at;
    log.fatal(
      { logBreak: at },
      `the event log does not check at ${describeBreak(at)}; this node will not become ready. Stop it, run "authlog verify --log" for the full report, then restore the data folder from a backup or start a new node that pulls from its peers (docs/operations.md, Tamper evidence)`,
    );
  };
  const tailBreak = await checkTail({
    store,
    keys: trustKeys(trust),
    origins: [id, ...Object.keys(projector.applied)],
    applied: (origin) => seqOf(projector.applied, origin),
    depth: options.tailCheck ?? 64,
  });
  if (tailBreak) onBreak(tailBreak);
  const catchUp: CatchUp = tailBreak
    ? { caughtUp: new Promise<void>(() => {}), stop: async () => {} }
    : startCatchUp({
        store,
        writer,
        checkpoint: projector.checkpoint(STORE_CHECKPOINT),
        applied: projector.applied,
        log,
        verify: { keys: trustKeys(trust), onBreak },
      });
  let ready = false;
  // The key the cluster holds for this node's next seq must be the one it signs with. A crash
  // between a rotation's append and the key file's replacement leaves the new key pending: the
  // log says which one is right.
  let keyProblem: string | null = null;
  const checkKey = () => {
    const next = seqOf(projector.applied, id) + 1n;
    const expected = trust.member(id)?.keys.find((k) => k.fromSeq <= next)?.publicKey;
    if (expected === undefined || expected === writer.publicKey) return;
    const pending = options.keyStore?.pending();
    if (pending?.publicKey === expected) {
      writer.adoptKey(pending);
      options.keyStore?.promote();
      log.warn({ node: id }, 'finished a key rotation interrupted by a stop');
      return;
    }
    keyProblem = `this node signs with ${writer.publicKey}, the cluster holds ${expected} for its seq ${next}: restore the node key that matches`;
    log.error({ node: id }, keyProblem);
  };
  const readyPromise = catchUp.caughtUp.then(() => {
    checkKey();
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
  // Status answers even when the read model cannot be read (it says so elsewhere): no members.
  const trustSummary = (): TrustSummary => {
    try {
      return trust.summary();
    } catch (err) {
      log.error({ err }, 'cluster membership could not be read');
      return { members: [], equivocations: [] };
    }
  };
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
              applied: () => projector.applied,
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
    // Not while a replay is due or under way: what it takes back is not applied in effect.
    waitApplied: (origin, seq, timeoutMs) =>
      committed.until(
        () => !reprojecting && !projector.stale && seqOf(projector.applied, origin) >= seq,
        timeoutMs,
      ),
    nextCommit,
    read,
    authz,
    trust,
    publicKey: key.publicKey,
    log,
    ready: readyPromise,
    isReady: () => ready,
    execute: (command, meta) =>
      logBreak
        ? Promise.reject(logBrokenProblem(logBreak))
        : writer.execute(command, { ...meta, now: meta.now ?? physicalMs() }),
    status: () => ({
      node: id,
      ready,
      applied: encodeVector(projector.applied),
      buffered: projector.buffered,
      writer: { failed: writer.failed?.message ?? null, ...writer.stats },
      driftAlarms,
      trust: trustSummary(),
      store: store.kind,
      keyProblem,
      logBreak,
    }),
    async rotateKey(command, meta) {
      const keys = options.keyStore;
      if (!keys)
        throw new AppError(
          'KEY_NOT_ROTATABLE',
          'this node key comes from the environment (AUTHLOG_NODE_KEY): set AUTHLOG_NODE_KEY_FILE to rotate online',
        );
      // One rotation at a time: a second would sign its event with the key the first replaces,
      // after the log says the new one signs (and overwrite the prepared key file).
      if (rotating)
        throw new AppError('KEY_NOT_ROTATABLE', 'a rotation of this node key is under way');
      rotating = true;
      const next = keys.prepare();
      writer.rotateTo(next);
      try {
        return await writer.execute(command(next.publicKey, writer.publicKey), {
          ...meta,
          now: physicalMs(),
        });
      } catch (err) {
        // Refused (nothing written): the prepared key goes. Otherwise the append may have landed:
        // the key stays pending, and the writer takes it up when it reads its stream back.
        if (err instanceof AppError && err.status < 500) {
          writer.rotateTo(undefined);
          keys.discard();
        }
        throw err;
      } finally {
        rotating = false;
      }
    },
    digest: () => digest(readModel.reader),
    async close() {
      await catchUp.stop();
      await writer.close();
      readModel.close();
    },
  };
};
