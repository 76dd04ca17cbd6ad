// The writer queue: the single writer of this node's read model and origin stream. Commands
// are decided one after another against the read model; while an append is in flight, newly
// arriving commands wait and are then decided and appended together (group commit). Events of
// other origins (catch-up, replication) pass through the same queue, so nothing interleaves.
//
// Per batch: BEGIN on the read model → decide each command, stamp its events (seq, hlc, deps)
// and project them → append all to `origin-<node>` with the exact expected revision → COMMIT
// and answer. If the append fails, the read model rolls back and nothing is acknowledged.

import type { Clock } from '../clock/hlc.ts';
import { seqOf } from '../clock/version-vector.ts';
import { AppError } from '../errors.ts';
import { CURRENT_SCHEMA, type EventType } from '../events/catalogue.ts';
import { type Envelope, fromRecorded, originStream, toEventData } from '../events/envelope.ts';
import { eventHash, type NodeKey, sealEvent } from '../events/signature.ts';
import type { Projector } from '../readmodel/projector.ts';
import { ConcurrencyError, StoreFullError, StoreUnavailableError } from '../store/errors.ts';
import type { EventData, EventStore } from '../store/port.ts';
import { storeErrorOf } from '../store/sqlite/errors.ts';
import { type Command, type CommandMeta, recordedAuthority } from './command.ts';

export type Receipt<R> = {
  readonly result: R;
  readonly events: readonly Envelope[];
  /** `origin:seq` this node had applied once the command's events were: a read-your-writes token. */
  readonly token: string;
};

export type WriterOptions = {
  readonly node: string;
  readonly store: EventStore;
  readonly projector: Projector;
  readonly clock: Clock;
  readonly newId: () => string;
  /** Signs every event this node originates (src/events/signature.ts). */
  readonly key: NodeKey;
  /** Hash of the last event of this node's origin stream, undefined when it is empty. */
  readonly chainHead: string | undefined;
  /** Why this node may not originate an event (not enrolled, removed, a family it may not
   * write), checked before an event is stamped: one the cluster would refuse is never written. */
  readonly mayOriginate: (type: EventType, seq: bigint) => AppError | undefined;
  readonly maxBatch?: number;
  /** Delays between retries of an append the store could not confirm (same ids, same revision). */
  readonly retryDelaysMs?: readonly number[];
  readonly onFatal?: (error: Error) => void;
  /** The read model is stale (an applied event made earlier ones inert): rebuilds it in place
   * (reproject.ts), as a job of this queue, before anything else is decided or applied. */
  readonly reproject?: () => Promise<void>;
  /** A rotation's event is in the log: the writer signs with `key` from now on. */
  readonly onKeyRotated?: (key: NodeKey) => void;
};

export type Writer = {
  execute<R>(command: Command<R>, meta: CommandMeta): Promise<Receipt<R>>;
  /** Offers events of any origin (own events re-read from the store are skipped as applied).
   * `checkpoint` is recorded when nothing is left waiting in the causal buffer. */
  apply(
    events: readonly Envelope[],
    checkpoint?: { name: string; position: string },
  ): Promise<void>;
  /** Starts deciding commands (queued ones included) once the read model has caught up. */
  open(): void;
  /** The key this node rotates to: events after its `NodeKeyRotated` naming this key are signed
   * with it (the rotation itself with the key it replaces). Undefined drops a pending rotation. */
  rotateTo(next: NodeKey | undefined): void;
  /** Signs with `key` from now on: a rotation to it is already in the log (finished at start). */
  adoptKey(key: NodeKey): void;
  /** The public half of the key the next event is signed with. */
  readonly publicKey: string;
  readonly failed: Error | undefined;
  readonly stats: { readonly batches: number; readonly commands: number; readonly events: number };
  close(): Promise<void>;
};

type CommandJob = {
  kind: 'command';
  command: Command<unknown>;
  meta: CommandMeta;
  resolve: (r: Receipt<unknown>) => void;
  reject: (e: unknown) => void;
};
type ApplyJob = {
  kind: 'apply';
  events: readonly Envelope[];
  checkpoint?: { name: string; position: string } | undefined;
  resolve: () => void;
  reject: (e: unknown) => void;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const createWriter = (options: WriterOptions): Writer => {
  const { node, store, projector, clock, newId } = options;
  const maxBatch = options.maxBatch ?? 512;
  const retryDelaysMs = options.retryDelaysMs ?? [50, 250, 1000];
  const stream = originStream(node);
  const queue: (CommandJob | ApplyJob)[] = [];
  let opened = false;
  let pumping = false;
  let failed: Error | undefined;
  let closed = false;
  let idle: Promise<void> = Promise.resolve();
  let settleIdle: (() => void) | undefined;
  const stats = { batches: 0, commands: 0, events: 0 };

  const fail = (error: Error) => {
    failed = error;
    options.onFatal?.(error);
  };

  // Checkpoints of apply jobs that changed nothing, written with the next transaction instead of
  // one of their own. Every event of such a job was already applied (the catch-up subscription
  // meeting this node's own events, or events a puller projected first), so the position is one
  // the committed version vector already covers: writing it late never lets a restart skip an
  // unapplied event, and writing it early is impossible. Exactly-once rests on the version
  // vector, which commits with the rows; a checkpoint only says where to resume reading.
  const deferred = new Map<string, string>();
  const writeDeferred = () => {
    for (const [name, position] of deferred) projector.setCheckpoint(name, position);
  };
  const committed = () => deferred.clear();

  const changesNothing = (events: readonly Envelope[]) =>
    projector.buffered === 0 && events.every((e) => e.seq <= seqOf(projector.applied, e.origin));

  // Apply jobs the read model could not take because its disk was full. Their events are in the
  // store, and the next transaction that succeeds applies them first, in order; nothing is
  // decided before it has. Their callers are answered as if applied: the catch-up subscription
  // reads on (it would drop a refused batch), and a restart re-reads them from the checkpoint,
  // which commits with them.
  const held: ApplyJob[] = [];

  const offerJob = (job: ApplyJob) => {
    for (const e of job.events) projector.offer(e);
    if (job.checkpoint && projector.buffered === 0)
      projector.setCheckpoint(job.checkpoint.name, job.checkpoint.position);
  };

  /** Applies the held jobs, then `job`, in one transaction. False when the disk is full: the
   * job is held. */
  const applyJobs = (job?: ApplyJob): boolean => {
    try {
      projector.transaction(() => {
        writeDeferred();
        for (const h of held) offerJob(h);
        if (job) offerJob(job);
      });
    } catch (err) {
      if (!(storeErrorOf(err) instanceof StoreFullError)) throw err;
      if (job) held.push(job);
      return false;
    }
    held.length = 0;
    committed();
    return true;
  };

  const runApply = (job: ApplyJob) => {
    if (held.length === 0 && job.checkpoint && changesNothing(job.events)) {
      deferred.set(job.checkpoint.name, job.checkpoint.position);
      return;
    }
    applyJobs(job);
  };

  // This node's stream may hold events the read model lacks: an append that was not confirmed,
  // or one that landed while the read-model commit after it failed (its disk full). Deciding on
  // such a read model would stamp seqs the stream already has, and the append's expected
  // revision would fail as if another process wrote as this node (NODE_CONFLICT, for good).
  let behind = false;

  /** Brings the read model up to what the store holds before anything is decided. */
  const settle = async () => {
    if (behind) {
      await resync();
      behind = false;
    }
    if (held.length > 0 && !applyJobs())
      throw new StoreFullError('the read model cannot be written: its disk is full');
  };

  // STORE_FULL says whether the log holds the write (`recorded`): a client must not send again
  // what it holds, which takes effect on this node once space is freed.
  const fullNothingWritten = () =>
    new AppError('STORE_FULL', 'nothing was written; send it again once space is freed', {
      recorded: false,
    });

  /** A failure of the store or the read model as the client hears it; others pass unchanged. */
  const answerFor = (err: unknown): unknown => {
    const failure = storeErrorOf(err);
    if (failure instanceof StoreUnavailableError)
      return new AppError('STORE_UNAVAILABLE', 'the event store did not confirm the write; retry');
    if (failure instanceof StoreFullError) return fullNothingWritten();
    return err;
  };

  // A full disk refused the read model's commit after the append of `firstSeq` on: whether the
  // log holds the batch (then it takes effect here once space is freed, and must not be sent
  // again) is for the store to say.
  const fullAfterAppend = async (firstSeq: bigint): Promise<AppError> => {
    const last = await store.streamRevision(stream).then(
      (revision) => revision ?? -1n,
      () => undefined,
    );
    if (last === undefined)
      return new AppError(
        'STORE_FULL',
        'the write may be in the event log; read it back before sending it again',
        { recorded: null },
      );
    if (last < firstSeq - 1n) return fullNothingWritten();
    return new AppError(
      'STORE_FULL',
      'the event log holds this write; it takes effect on this node once space is freed: do not send it again',
      { recorded: true },
    );
  };

  // The hash of the last event stamped: the next one's `prev`. Moves with each stamped event,
  // back to the batch's start when the batch rolls back.
  let chainHead = options.chainHead;
  // The signing key, and the one a pending rotation moves to once its event is stamped.
  let key = options.key;
  let nextKey: NodeKey | undefined;
  const switchKey = (to: NodeKey) => {
    key = to;
    nextKey = undefined;
    options.onKeyRotated?.(to);
  };

  const appendWithRetry = async (data: EventData[], firstSeq: bigint) => {
    const expectedRevision = firstSeq === 1n ? ('no_stream' as const) : firstSeq - 2n;
    for (let attempt = 0; ; attempt++) {
      try {
        return await store.append(stream, data, { expectedRevision });
      } catch (err) {
        const delay = retryDelaysMs[attempt];
        if (!(err instanceof StoreUnavailableError) || delay === undefined) throw err;
        await sleep(delay);
      }
    }
  };

  // After an append whose outcome is unknown, the store may hold events the read model lacks:
  // read them back and apply them before deciding anything else.
  const resync = async () => {
    const from = seqOf(projector.applied, node);
    const missing = await store.readStream(stream, { fromRevision: from });
    if (missing.length === 0) return;
    chainHead = eventHash(missing.at(-1)!);
    // A rotation whose append landed though the writer was not told: its key signs from now on.
    const rotated = missing.some(
      (r) => r.type === 'NodeKeyRotated' && r.data.publicKey === nextKey?.publicKey,
    );
    if (rotated && nextKey) switchKey(nextKey);
    runApply({
      kind: 'apply',
      events: missing.map((r) => fromRecorded(r)),
      resolve() {},
      reject() {},
    });
  };

  const runCommands = async (jobs: CommandJob[]) => {
    try {
      await settle();
    } catch (err) {
      const error = answerFor(err);
      for (const job of jobs) job.reject(error);
      return;
    }
    const answers: { job: CommandJob; receipt?: Receipt<unknown>; error?: unknown }[] = [];
    const envelopes: Envelope[] = [];
    const sealed: EventData[] = [];
    const firstSeq = seqOf(projector.applied, node) + 1n;
    const headAtStart = chainHead;
    const keyAtStart = key;
    projector.begin();
    try {
      writeDeferred();
      for (const job of jobs) {
        let decision: ReturnType<Command<unknown>['decide']>;
        try {
          decision = job.command.decide(projector.read, job.meta);
        } catch (error) {
          answers.push({ job, error });
          continue;
        }
        const base = seqOf(projector.applied, node);
        const refusal = decision.events
          .map((event, i) => options.mayOriginate(event.type, base + 1n + BigInt(i)))
          .find((why) => why !== undefined);
        if (refusal !== undefined) {
          answers.push({ job, error: refusal });
          continue;
        }
        const stamped: Envelope[] = [];
        const authority = recordedAuthority(decision.authority);
        for (const event of decision.events) {
          const seq = seqOf(projector.applied, node) + 1n;
          // Spreading a member of the event union keeps type and data paired; TypeScript cannot
          // see that through the spread, hence the annotation. The spread comes last: Node 20's
          // V8 adds each property written after a leading spread on a slow path (~2 µs each,
          // 20-30 µs for this envelope, per event; 0.1 µs in this order). No key overlaps.
          const e = {
            id: newId(),
            origin: node,
            seq,
            hlc: clock.tick(),
            deps: { ...projector.applied, [node]: seq - 1n },
            schema: CURRENT_SCHEMA,
            actor: job.meta.actor,
            via: job.meta.via,
            correlationId: job.meta.correlationId,
            causationId: job.meta.causationId,
            ip: job.meta.ip,
            userAgent: job.meta.userAgent,
            authority,
            prev: chainHead,
            ...event,
          } as Envelope;
          if (projector.offer(e) !== 'applied')
            throw new Error(`own event ${e.id} was not applicable`);
          const signed = sealEvent(key, toEventData(e));
          chainHead = signed.hash;
          // Signed by the key it replaces; what follows, by the new one.
          if (e.type === 'NodeKeyRotated' && nextKey?.publicKey === e.data.publicKey) key = nextKey;
          sealed.push(signed.data);
          stamped.push(e);
        }
        envelopes.push(...stamped);
        const token = `${node}:${seqOf(projector.applied, node)}`;
        answers.push({ job, receipt: { result: decision.result, events: stamped, token } });
      }
      if (sealed.length > 0) await appendWithRetry(sealed, firstSeq);
      projector.commit();
      if (key !== keyAtStart) switchKey(key);
      committed();
      await reprojectIfStale();
    } catch (err) {
      projector.rollback();
      chainHead = headAtStart;
      key = keyAtStart;
      if (err instanceof ConcurrencyError) {
        fail(
          new AppError(
            'NODE_CONFLICT',
            `another process appended to ${stream}; this node stops writing`,
          ),
        );
      } else behind = true; // whatever failed, re-read the stream before deciding again
      // A StoreFullError of the store's own means its append wrote nothing; a full disk under
      // the read model (mapped here) may have come after the append landed.
      const full = !(err instanceof StoreFullError) && storeErrorOf(err) instanceof StoreFullError;
      const error =
        err instanceof ConcurrencyError
          ? failed
          : full && envelopes.length > 0
            ? await fullAfterAppend(firstSeq)
            : answerFor(err);
      for (const { job } of answers) job.reject(error);
      for (const job of jobs.slice(answers.length)) job.reject(error);
      if (behind) await settle().catch(() => undefined);
      return;
    }
    stats.batches += 1;
    stats.commands += jobs.length;
    stats.events += envelopes.length;
    for (const a of answers) {
      if (a.receipt) a.job.resolve(a.receipt);
      else a.job.reject(a.error);
    }
  };

  const reprojectIfStale = async () => {
    if (!projector.stale || !options.reproject) return;
    try {
      await options.reproject();
    } catch (err) {
      // The old read model stands (the replay rolled back); the next commit tries again.
      options.onFatal?.(err as Error);
    }
  };

  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (queue.length > 0) {
        const head = queue[0]!;
        if (head.kind === 'apply') {
          queue.shift();
          try {
            runApply(head);
            await reprojectIfStale();
            head.resolve();
          } catch (err) {
            head.reject(err);
          }
          continue;
        }
        if (!opened) {
          // Commands wait for catch-up, but events keep flowing: let later apply jobs pass.
          const next = queue.findIndex((j) => j.kind === 'apply');
          if (next < 0) break;
          const [job] = queue.splice(next, 1) as [ApplyJob];
          try {
            runApply(job);
            await reprojectIfStale();
            job.resolve();
          } catch (err) {
            job.reject(err);
          }
          continue;
        }
        let n = 0;
        while (n < queue.length && n < maxBatch && queue[n]!.kind === 'command') n++;
        const jobs = queue.splice(0, n) as CommandJob[];
        if (failed) for (const j of jobs) j.reject(failed);
        else await runCommands(jobs);
      }
    } finally {
      pumping = false;
      if (queue.length === 0 && settleIdle) {
        settleIdle();
        settleIdle = undefined;
      }
    }
  };

  const enqueue = (job: CommandJob | ApplyJob) => {
    if (closed) {
      job.reject(new AppError('NOT_READY', 'the node is shutting down'));
      return;
    }
    if (!settleIdle) idle = new Promise((r) => (settleIdle = r));
    queue.push(job);
    void pump();
  };

  return {
    execute<R>(command: Command<R>, meta: CommandMeta) {
      return new Promise<Receipt<R>>((resolve, reject) =>
        enqueue({
          kind: 'command',
          command,
          meta,
          resolve: resolve as (r: Receipt<unknown>) => void,
          reject,
        }),
      );
    },
    apply(events, checkpoint) {
      return new Promise<void>((resolve, reject) =>
        enqueue({ kind: 'apply', events, checkpoint, resolve, reject }),
      );
    },
    open() {
      opened = true;
      void pump();
    },
    rotateTo(next) {
      nextKey = next;
    },
    adoptKey(adopted) {
      key = adopted;
    },
    get publicKey() {
      return key.publicKey;
    },
    get failed() {
      return failed;
    },
    stats,
    async close() {
      closed = true;
      if (!opened) {
        const stopped = new AppError('NOT_READY', 'the node is shutting down');
        for (const job of queue.splice(0)) job.reject(stopped);
        settleIdle?.();
      }
      await idle;
      if (deferred.size > 0) {
        projector.transaction(writeDeferred);
        committed();
      }
    },
  };
};
