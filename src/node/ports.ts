// What the layers above get of a node instead of its store, projector and writer: small ports,
// each the whole of what one consumer needs. The replication feed reads a `FeedSource`, a puller
// writes through an `Ingest`, the HTTP edge waits for writes with `waitApplied`, the audit trail
// follows a `LogReader`. `startNode` (node.ts) provides them; nothing here imports the layers
// that use them.
import type { VersionVector } from '../clock/version-vector.ts';
import type { Envelope } from '../events/envelope.ts';
import type { Position, RecordedEvent } from '../store/port.ts';
import type { RawEvent, Refusal } from './trust.ts';

/** The node's log as it is read from outside: its origin streams in store order, which is causal
 * (every append is the writer's own batch, decided on applied state, or an ingest of a causal
 * feed). */
export type LogReader = {
  readLog(options: {
    readonly after?: Position | undefined;
    readonly maxCount: number;
  }): Promise<readonly RecordedEvent[]>;
};

/** What the read model has applied, and waits for more of it. Waits resolve on the commit that
 * satisfies them (commit-signal.ts), never by polling. */
export type Applied = {
  /** A copy of the applied version vector. */
  appliedVector(): VersionVector;
  /** True once the read model has applied `origin:seq` (at once, or at the commit that applies
   * it); false if it has not within `timeoutMs`. */
  waitApplied(origin: string, seq: bigint, timeoutMs: number): Promise<boolean>;
  /** Resolves at the read model's next commit, or after `timeoutMs` (long-polls wait on it). */
  nextCommit(timeoutMs: number): Promise<void>;
};

/** What the replication feed serves from. */
export type FeedSource = LogReader & Pick<Applied, 'appliedVector' | 'nextCommit'>;

/** Where a reader got to: a named read-model checkpoint and its position. */
export type Checkpoint = { readonly name: string; readonly position: string };

export type IngestResult = {
  readonly appended: number;
  readonly present: number;
  /** The events accepted (stored now or before), in order: what to project. */
  readonly events: readonly Envelope[];
  /** The event the page stopped at, and why (nothing after it was looked at). */
  readonly refused?: Refusal;
  /** An origin this node does not know (not enrolled here yet): the page stopped there. */
  readonly held?: { readonly origin: string; readonly seq: string; readonly detail: string };
};

/** How events of other origins enter the node: a puller writes through this. */
export type Ingest = {
  /** The position a named reader (a peer's puller) last recorded with what it projected. */
  checkpoint(name: string): string | undefined;
  /** Checks events as received (signature, chain, enrollment: trust.ts) and appends them as they
   * are to their origin streams; the same events the store already holds are acknowledged
   * without writing (ingest.ts). Stops at the first event it refuses. */
  append(events: readonly RawEvent[]): Promise<IngestResult>;
  /** Projects stored events, recording `checkpoint` (if given) in the same read-model
   * transaction. */
  project(events: readonly Envelope[], checkpoint?: Checkpoint): Promise<void>;
  appliedVector(): VersionVector;
};
