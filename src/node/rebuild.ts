// Rebuild: replays the whole log into a new read model beside the live one, then swaps it in
// with a rename, so a crash or an interrupt mid-way leaves the old read model untouched. The
// result is the same read model as the incrementally built one (same digest).
//
// Every event is checked before it is applied (chain.ts): signed by its origin with the key for
// its seq, chained to the one before, nothing missing. The first that does not check stops the
// rebuild with a LogBrokenError naming it, and the live read model stays as it was.
import { closeSync, fsyncSync, openSync, renameSync } from 'node:fs';
import { ORIGIN_STREAM_PREFIX } from '../events/envelope.ts';
import {
  createQueryIndexes,
  type OpenReadModelOptions,
  openReadModel,
  type ReadModel,
  removeReadModelFiles,
} from '../readmodel/database.ts';
import { digest } from '../readmodel/digest.ts';
import type { Projection } from '../readmodel/projection.ts';
import { createProjector } from '../readmodel/projector.ts';
import { type EventStore, type Position, positionToString } from '../store/port.ts';
import { STORE_CHECKPOINT } from './catch-up.ts';
import { createChainVerifier, founderKeys, LogBrokenError } from './chain.ts';
import { foreseeLog } from './reproject.ts';
import type { Founders } from './trust.ts';

export type RebuildProgress = {
  readonly events: number;
  /** Share of the log read so far, 0..1 (by position). */
  readonly fraction: number;
};

export type RebuildResult = {
  readonly events: number;
  readonly buffered: number;
  readonly ms: number;
  /** Of `ms`, the time spent checking signatures and chains. */
  readonly verifyMs: number;
  readonly digest: string;
};

export type RebuildOptions = {
  readonly store: EventStore;
  /** The read model file to replace. */
  readonly path: string;
  readonly projections: readonly Projection[];
  /** The cluster's founders (the cluster file): the keys every chain is checked from. */
  readonly founders: Founders;
  readonly batchSize?: number;
  readonly onProgress?: (p: RebuildProgress) => void;
};

/** How a rebuild target is opened: no syncs and an in-memory rollback journal until it is
 * complete, when it is fsynced before it replaces the live file; query indexes are built at the
 * end (`finishRebuildTarget`). */
export const REBUILD_TARGET: OpenReadModelOptions = {
  synchronous: 'OFF',
  journal: 'MEMORY',
  deferQueryIndexes: true,
};

/** Completes a read model opened with REBUILD_TARGET once every event is in. */
export const finishRebuildTarget = (rm: ReadModel): void => createQueryIndexes(rm);

export const rebuildReadModel = async (options: RebuildOptions): Promise<RebuildResult> => {
  const started = performance.now();
  const batchSize = options.batchSize ?? 5000;
  const target = options.path === ':memory:' ? ':memory:' : `${options.path}.rebuild`;
  if (target !== ':memory:') removeReadModelFiles(target);
  const rm = openReadModel(target, options.projections, REBUILD_TARGET);
  const projector = createProjector(rm);
  const head = await options.store.headPosition();
  const total = head ? Number(head.commit) : 0;
  let after: Position | undefined;
  let events = 0;
  let verifyMs = 0;
  const verifier = createChainVerifier(founderKeys(options.founders));
  try {
    // Every revocation and removal of the log, known before the first event is applied: events
    // they make inert are inert as they are applied (reproject.ts, projections/inert.ts).
    projector.begin();
    await foreseeLog(options.store, projector);
    projector.commit();
    for (;;) {
      const page = await options.store.readAll({
        streamPrefix: ORIGIN_STREAM_PREFIX,
        maxCount: batchSize,
        ...(after ? { after } : {}),
      });
      if (page.length === 0) break;
      const last = page.at(-1)!.position;
      projector.transaction(() => {
        for (const r of page) {
          const t = performance.now();
          const v = verifier.next(r);
          verifyMs += performance.now() - t;
          if (typeof v !== 'object' || 'broken' in v)
            throw new LogBrokenError(v === 'skipped' ? verifier.breaks[0]! : v.broken);
          projector.offer(v.event);
        }
        if (projector.buffered === 0)
          projector.setCheckpoint(STORE_CHECKPOINT, positionToString(last));
      });
      events += page.length;
      after = last;
      options.onProgress?.({
        events,
        fraction: total > 0 ? Math.min(1, Number(last.commit) / total) : 1,
      });
      if (head && last.commit >= head.commit && last.prepare >= head.prepare) break;
    }
    projector.transaction(() => projector.endForesight());
    finishRebuildTarget(rm);
    const result = {
      events,
      buffered: projector.buffered,
      ms: performance.now() - started,
      verifyMs,
      digest: digest(rm.reader),
    };
    rm.close();
    if (target !== ':memory:') {
      // Closing the last connection checkpointed and removed the WAL: the file is complete.
      // Make it durable before it replaces the live read model.
      const fd = openSync(target, 'r+');
      fsyncSync(fd);
      closeSync(fd);
      removeReadModelFiles(options.path);
      renameSync(target, options.path);
    }
    return result;
  } catch (err) {
    rm.close();
    if (target !== ':memory:') removeReadModelFiles(target);
    throw err;
  }
};
