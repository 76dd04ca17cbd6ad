// authlog's side of the benchmark: real commands through a node (writer queue, decide, project,
// durable append), and rebuilding a read model from the log.
import { projections } from '../../projections/index.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { fromRecorded } from '../../src/events/envelope.ts';
import { generateNodeKey, type NodeKey } from '../../src/events/signature.ts';
import { STORE_CHECKPOINT } from '../../src/node/catch-up.ts';
import { type AuthlogNode, startNode } from '../../src/node/node.ts';
import { finishRebuildTarget, REBUILD_TARGET } from '../../src/node/rebuild.ts';
import { openReadModel, type ReadModel } from '../../src/readmodel/database.ts';
import type { Projection } from '../../src/readmodel/projection.ts';
import { createProjector, type Outcome } from '../../src/readmodel/projector.ts';
import { type EventStore, type Position, positionToString } from '../../src/store/port.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { RawRow } from './raw.ts';

/** A node on a durable (synchronous=FULL) store file, caught up and accepting commands. */
export const startDurableNode = async (
  storePath: string,
  readModelPath: string,
  key: NodeKey = generateNodeKey().key,
) => {
  const store = openSqliteStore({ path: storePath, synchronous: 'FULL' });
  const node = await startNode({ nodeId: 'bench', store, readModelPath, key });
  await node.ready;
  return node;
};

/** The baseline of "the same appends without signatures": a node key whose sign() returns a
 * constant of a signature's length instead of an Ed25519 signature. Nothing else changes: the
 * writer still builds the canonical encoding and the chain hash (bench:store times those apart). */
export const unsignedKey = (): NodeKey => {
  const { publicKey } = generateNodeKey().key;
  const sig = 'A'.repeat(86);
  return { publicKey, sign: () => sig };
};

// One PrincipalRegistered event per command, with the checks a real registration makes
// (id and email free), so the decision reads the read model as it would in production.
const register = (i: number) =>
  registerPrincipal({
    principalId: `bench.p${i}`,
    kind: 'person',
    briefName: 'Ada',
    fullName: 'Ada Lovelace',
    email: `ada.lovelace.${i}@example.org`,
    phone: '+41446681800',
  });

/** `count` commands, each awaited before the next is sent; returns milliseconds. */
export const sequentialCommands = async (
  node: AuthlogNode,
  from: number,
  count: number,
  onProgress?: (done: number) => void,
): Promise<number> => {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    await node.execute(register(from + i), { actor: 'system' });
    if (i % 100 === 99) onProgress?.(i + 1);
  }
  return performance.now() - started;
};

/** `count` commands from `concurrency` clients that each send their next command as soon as
 * the previous one is answered; returns milliseconds. */
export const concurrentCommands = async (
  node: AuthlogNode,
  from: number,
  count: number,
  concurrency: number,
  onProgress?: (done: number) => void,
): Promise<number> => {
  let next = 0;
  let done = 0;
  const client = async () => {
    while (next < count) {
      const i = next++;
      await node.execute(register(from + i), { actor: 'system' });
      done += 1;
      if (done % 500 === 0) onProgress?.(done);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  return performance.now() - started;
};

export type RebuildRun = {
  readonly events: number;
  readonly ms: number;
  /** False when the time budget ran out before the end of the log. */
  readonly complete: boolean;
  readonly lastPosition: bigint;
  readonly outcomes: Record<Outcome, number>;
  readonly readModel: ReadModel;
};

/**
 * Rebuilds a read model from the whole log into a fresh file, the way a rebuild does (same file
 * settings as rebuildReadModel's target): pages of
 * the log in `$all` order, each applied in one read-model transaction together with the
 * checkpoint. Timed from opening the read model to the last commit; the caller closes it.
 * It stops early, between pages, once `budgetMs` has passed.
 */
export const rebuildFromLog = async (options: {
  readonly store: EventStore;
  readonly path: string;
  readonly pageSize: number;
  readonly budgetMs?: number;
  readonly onProgress?: (events: number) => void;
  /** Default: every projection. */
  readonly projections?: readonly Projection[];
}): Promise<RebuildRun> => {
  const { store, pageSize } = options;
  const started = performance.now();
  const readModel = openReadModel(options.path, options.projections ?? projections, REBUILD_TARGET);
  const projector = createProjector(readModel);
  const outcomes: Record<Outcome, number> = { applied: 0, skipped: 0, buffered: 0 };
  let after: Position | undefined;
  let events = 0;
  let complete = true;
  for (;;) {
    if (performance.now() - started > (options.budgetMs ?? Number.POSITIVE_INFINITY)) {
      complete = false;
      break;
    }
    const page = await store.readAll({ maxCount: pageSize, ...(after ? { after } : {}) });
    const last = page.at(-1)?.position;
    if (last === undefined) break;
    projector.transaction(() => {
      for (const r of page) outcomes[projector.offer(fromRecorded(r))] += 1;
      projector.setCheckpoint(STORE_CHECKPOINT, positionToString(last));
    });
    events += page.length;
    after = last;
    options.onProgress?.(events);
  }
  finishRebuildTarget(readModel);
  const ms = performance.now() - started;
  return { events, ms, complete, lastPosition: after?.commit ?? 0n, outcomes, readModel };
};

/** The events stored after `after`, as the raw baseline inserts them (JSON text). */
export const storedRows = async (
  store: EventStore,
  after: Position | undefined,
): Promise<{ readonly rows: RawRow[]; readonly last: Position | undefined }> => {
  const events = await store.readAll(after ? { after } : {});
  const rows = events.map(({ stream, revision, id, type, data, metadata }) => ({
    stream,
    revision,
    id,
    type,
    data: JSON.stringify(data),
    metadata: JSON.stringify(metadata),
  }));
  return { rows, last: events.at(-1)?.position ?? after };
};

export const openLog = (path: string): EventStore =>
  openSqliteStore({ path, synchronous: 'NORMAL' });
