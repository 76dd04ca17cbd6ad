// THE FAKE's storage: an in-memory transaction log with EventStoreDB's append decisions, as read
// from the server's IndexCommitter.CheckCommit (EventStore/EventStore, v23–v24):
// - exact expected revision E below the stream's last revision C: the batch is a retry when its
//   ids are the stream's events E+1, E+2, … (acknowledged without writing, at the position of
//   the last of them); when the first id matches but a later one does not, "corrupted
//   idempotency", answered as a wrong expected version; otherwise a wrong expected version;
// - E equal to C: written, whatever the ids (the server keeps no unique index of event ids);
// - E above C: wrong expected version;
// - `any` / `stream_exists`: ids looked up in a cache of committed events (id → first stream and
//   revision it was written at; bounded on a real server, unbounded here): first id unknown or in
//   another stream → written; all known in this stream → acknowledged at the revision of the last
//   id; first known, a later one not → wrong expected version.
// It is a fake: no transactions, scavenging, deletes, ACLs, or system streams beyond one marker
// event. It exists to prove the adapter's mapping, not the server's semantics.

export type FakeExpected = 'any' | 'no_stream' | 'stream_exists' | bigint;

export type ProposedEvent = {
  /** Lower-case UUID string, as the server prints it. */
  readonly id: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
};

export type StoredEvent = ProposedEvent & {
  readonly stream: string;
  readonly revision: bigint;
  /** Commit and prepare position (equal, as for every non-transaction write since v20). */
  readonly position: bigint;
  /** .NET ticks (100 ns) since the Unix epoch. */
  readonly created: bigint;
};

export type AppendOutcome =
  | {
      readonly kind: 'written' | 'idempotent';
      readonly lastRevision: bigint;
      readonly position: bigint | undefined;
    }
  | { readonly kind: 'wrong-expected-version'; readonly current: bigint /* -1: no stream */ };

const ANY = -2n;
const NO_STREAM = -1n;
const STREAM_EXISTS = -4n;
const numeric = (e: FakeExpected): bigint =>
  e === 'any' ? ANY : e === 'no_stream' ? NO_STREAM : e === 'stream_exists' ? STREAM_EXISTS : e;

export class FakeLog {
  readonly events: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly committed = new Map<string, { stream: string; revision: bigint }>();
  private readonly listeners = new Set<() => void>();
  private nextPosition: bigint;

  /** `firstPosition`: where the log starts; a large one shows positions survive beyond 2^53. */
  constructor(options: { firstPosition?: bigint } = {}) {
    this.nextPosition = options.firstPosition ?? 1024n;
    // Real servers start `$all` with events of their own; readers must step over them.
    this.writeSystemEvent();
  }

  /** A binary event in a `$` stream, as the server writes for its own bookkeeping. */
  writeSystemEvent(stream = '$epoch-information'): StoredEvent {
    const revision = BigInt(this.streams.get(stream)?.length ?? 0);
    return this.write(stream, revision, {
      id: crypto.randomUUID(),
      type: '$epoch',
      contentType: 'application/octet-stream',
      data: new Uint8Array([1, 2, 3]),
      metadata: new Uint8Array(),
    });
  }

  stream(name: string): readonly StoredEvent[] {
    return this.streams.get(name) ?? [];
  }

  lastRevision(name: string): bigint {
    return BigInt(this.stream(name).length) - 1n;
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  append(stream: string, expected: FakeExpected, batch: readonly ProposedEvent[]): AppendOutcome {
    const e = numeric(expected);
    const current = this.lastRevision(stream);
    const own = this.stream(stream);
    const positionOf = (revision: bigint) => own[Number(revision)]?.position;

    if (e === STREAM_EXISTS && current < 0n) return { kind: 'wrong-expected-version', current };
    if (e === ANY || e === STREAM_EXISTS) {
      let end: bigint | undefined;
      for (const [index, proposed] of batch.entries()) {
        const known = this.committed.get(proposed.id);
        if (known === undefined || known.stream !== stream) {
          if (index === 0) return this.commit(stream, current, batch);
          return { kind: 'wrong-expected-version', current };
        }
        end = known.revision;
      }
      if (end === undefined) return this.commit(stream, current, batch);
      return { kind: 'idempotent', lastRevision: end, position: positionOf(end) };
    }
    if (e < current) {
      let revision = e;
      for (const proposed of batch) {
        revision += 1n;
        if (own[Number(revision)]?.id === proposed.id) continue;
        return { kind: 'wrong-expected-version', current };
      }
      if (revision === e) return { kind: 'wrong-expected-version', current };
      return { kind: 'idempotent', lastRevision: revision, position: positionOf(revision) };
    }
    if (e > current) return { kind: 'wrong-expected-version', current };
    return this.commit(stream, current, batch);
  }

  private commit(stream: string, current: bigint, batch: readonly ProposedEvent[]): AppendOutcome {
    let revision = current;
    let position: bigint | undefined;
    for (const proposed of batch) {
      revision += 1n;
      position = this.write(stream, revision, proposed).position;
    }
    if (batch.length > 0) for (const listener of this.listeners) listener();
    return { kind: 'written', lastRevision: revision, position };
  }

  private write(stream: string, revision: bigint, proposed: ProposedEvent): StoredEvent {
    const event: StoredEvent = {
      ...proposed,
      stream,
      revision,
      position: this.nextPosition,
      created: BigInt(Date.now()) * 10_000n,
    };
    // Positions are byte offsets in the server's log: increasing, with gaps.
    this.nextPosition +=
      128n + BigInt(proposed.data.length + proposed.metadata.length + stream.length * 3);
    this.events.push(event);
    const own = this.streams.get(stream) ?? [];
    own.push(event);
    this.streams.set(stream, own);
    if (!this.committed.has(event.id)) this.committed.set(event.id, { stream, revision });
    return event;
  }
}
