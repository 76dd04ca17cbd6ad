// Reprojection in place: when an event makes events applied before it inert (a revocation that
// quarantines administrative events it was concurrent with, a removal of seqs already applied:
// Projection.retroactive), their effects must go. Undoing them register by register would need
// every register's history; the read model is instead built again from the log, in one
// transaction on the live file, with every revocation and removal of the log known before the
// first event is applied (Projection.foresight), so each inert event is inert as it is applied.
// Readers see the old state until the commit; writes wait (this runs as a writer job). It is
// rare — once per authority race or removal of applied seqs — and costs one local rebuild.
import { fromRecorded, ORIGIN_STREAM_PREFIX } from '../events/envelope.ts';
import { clearReadModel, type ReadModel } from '../readmodel/database.ts';
import type { Projector } from '../readmodel/projector.ts';
import { type EventStore, type Position, positionToString } from '../store/port.ts';
import { STORE_CHECKPOINT } from './catch-up.ts';

const PAGE = 5000;

/** Reads the whole log a page at a time, in store order. */
const eachPage = async (
  store: EventStore,
  fn: (page: Awaited<ReturnType<EventStore['readAll']>>) => void,
): Promise<Position | undefined> => {
  let after: Position | undefined;
  for (;;) {
    const page = await store.readAll({
      streamPrefix: ORIGIN_STREAM_PREFIX,
      maxCount: PAGE,
      ...(after ? { after } : {}),
    });
    if (page.length === 0) return after;
    fn(page);
    after = page.at(-1)!.position;
  }
};

/** Records every revocation and removal of the log for the inert rules (inside a transaction). */
export const foreseeLog = (store: EventStore, projector: Projector): Promise<unknown> =>
  eachPage(store, (page) => {
    for (const r of page) projector.foresee(fromRecorded(r));
  });

export const reproject = async (options: {
  readonly store: EventStore;
  readonly readModel: ReadModel;
  readonly projector: Projector;
}): Promise<{ events: number; ms: number }> => {
  const { store, readModel, projector } = options;
  const started = performance.now();
  let events = 0;
  projector.begin();
  try {
    clearReadModel(readModel);
    projector.forgetApplied();
    await foreseeLog(store, projector);
    const last = await eachPage(store, (page) => {
      for (const r of page) projector.offer(fromRecorded(r));
      events += page.length;
    });
    // Events still waiting for their causes keep the checkpoint where it was (they are after it).
    if (last && projector.buffered === 0)
      projector.setCheckpoint(STORE_CHECKPOINT, positionToString(last));
    projector.endForesight();
    projector.commit();
  } catch (err) {
    projector.rollback();
    throw err;
  }
  return { events, ms: performance.now() - started };
};
