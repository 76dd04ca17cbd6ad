// Brings a peer's events into this node's store. Every event is checked before anything is
// stored (trust.ts): its origin's signature for that seq, the hash chain, the family its origin
// may write, the origin not removed. Events are stored as they were received, byte for byte in
// their JSON values, so the next node can check the same signature: relays change nothing.
//
// An event this node already holds at that origin and seq counts as present only when it is the
// same event (same signature over the same bytes). A different event there that its origin
// validly signed is an equivocation: kept as evidence and refused. The first refused event stops
// the page there: what came before it is stored, nothing after it, and the caller (the puller)
// is told which event, why, and by whom served. An origin this node does not know yet is not a
// refusal: the events before it are applied (they may enroll it) and it is checked again.
//
// Each origin's events go to its own stream with the exact expected revision their seq implies
// (seq n is revision n - 1), so duplicate deliveries and several pullers are harmless.

import { aheadOfNow } from '../clock/hlc.ts';
import {
  type Envelope,
  fromRecorded,
  MalformedEventError,
  originStream,
} from '../events/envelope.ts';
import { eventHash } from '../events/signature.ts';
import { ConcurrencyError, IdempotencyError } from '../store/errors.ts';
import type { EventData, EventStore } from '../store/port.ts';
import type { IngestResult } from './ports.ts';
import type { KeySpan, RawEvent, Refusal, Trust } from './trust.ts';

type Head = { stored: bigint; hash: string | undefined };

const refusalOf = (raw: RawEvent, detail: string): Refusal => {
  const m = raw.metadata as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, 100) : '');
  return {
    origin: text(m.origin),
    seq: text(m.seq),
    eventId: typeof raw.id === 'string' ? raw.id.slice(0, 100) : '',
    reason: 'malformed',
    detail: detail.slice(0, 400),
  };
};

export const ingest = async (
  deps: {
    store: Pick<EventStore, 'streamRevision' | 'append' | 'readStream'>;
    trust: Trust;
    /** Applies what was stored so far and reloads trust: called before an unknown origin is
     * checked again. */
    settle: (events: readonly Envelope[]) => Promise<void>;
    /** This node's physical time (ms) and the drift a peer's clock may be ahead of it. */
    now: () => number;
    maxDriftMs: number;
    /** What the read model has applied: stored events beyond it may rotate a key trust does not
     * know of yet. */
    applied: () => Readonly<Record<string, bigint>>;
  },
  records: readonly RawEvent[],
): Promise<IngestResult> => {
  const { store, trust } = deps;
  const heads = new Map<string, Head>();
  const accepted: { raw: RawEvent; e: Envelope }[] = [];
  const events: Envelope[] = [];
  let appended = 0;
  let present = 0;
  let flushedTo = 0;
  // Key rotations stored or accepted but not yet in the read model trust reads (the rotation may
  // wait in the causal buffer): the origin's next events are signed with the new key.
  const rotations = new Map<string, KeySpan[]>();
  const noteRotation = (e: { origin: string; seq: bigint; type: string; data: unknown }) => {
    if (e.type !== 'NodeKeyRotated') return;
    const spans = rotations.get(e.origin) ?? [];
    spans.push({ fromSeq: e.seq + 1n, publicKey: (e.data as { publicKey: string }).publicKey });
    rotations.set(e.origin, spans);
  };

  const headOf = async (origin: string): Promise<Head> => {
    let h = heads.get(origin);
    if (h) return h;
    const stream = originStream(origin);
    const revision = await store.streamRevision(stream);
    if (revision === undefined) h = { stored: 0n, hash: undefined };
    else {
      const [last] = await store.readStream(stream, { fromRevision: revision, maxCount: 1 });
      h = { stored: revision + 1n, hash: last ? eventHash(last) : undefined };
      const applied = deps.applied()[origin] ?? 0n;
      if (applied < h.stored)
        for (const r of await store.readStream(stream, { fromRevision: applied }))
          noteRotation({
            origin,
            seq: BigInt(String(r.metadata.seq)),
            type: r.type,
            data: r.data,
          });
    }
    heads.set(origin, h);
    return h;
  };

  const storedAt = async (origin: string, seq: bigint) =>
    (await store.readStream(originStream(origin), { fromRevision: seq - 1n, maxCount: 1 }))[0];

  // Appends what was accepted since the last flush, each origin's run in one append.
  const flush = async () => {
    const batch = accepted.slice(flushedTo);
    flushedTo = accepted.length;
    const byOrigin = new Map<string, { raw: RawEvent; e: Envelope }[]>();
    for (const item of batch) {
      const run = byOrigin.get(item.e.origin) ?? [];
      run.push(item);
      byOrigin.set(item.e.origin, run);
    }
    for (const [origin, run] of byOrigin) appended += await appendRun(origin, run);
  };

  // Another ingest on the same store (another node of the site, sharing it) may store part of the
  // run first: on a concurrency error, look at what the stream holds — the same events, by their
  // signatures, or it surfaces — and append the rest.
  const appendRun = async (origin: string, run: { raw: RawEvent; e: Envelope }[]) => {
    const stream = originStream(origin);
    for (let attempt = 0; ; attempt++) {
      const revision = await store.streamRevision(stream);
      const stored = revision === undefined ? 0n : revision + 1n;
      const fresh = run.filter(({ e }) => e.seq > stored);
      for (const { raw, e } of run.filter(({ e }) => e.seq <= stored)) {
        const held = await storedAt(origin, e.seq);
        if (held?.metadata.sig !== raw.metadata.sig)
          throw new Error(`${stream} holds another event at seq ${e.seq} than the one checked`);
      }
      if (fresh.length === 0) return 0;
      const first = fresh[0]!.e.seq;
      if (first !== stored + 1n)
        throw new RangeError(`gap in ${stream}: have ${stored}, got ${first}`);
      try {
        await store.append(
          stream,
          fresh.map(({ raw }) => raw as EventData),
          {
            expectedRevision: first === 1n ? 'no_stream' : first - 2n,
          },
        );
        return fresh.length;
      } catch (err) {
        if (!(err instanceof ConcurrencyError || err instanceof IdempotencyError) || attempt >= 5)
          throw err;
      }
    }
  };

  for (let i = 0; i < records.length; i++) {
    const raw = records[i]!;
    let e: Envelope;
    try {
      e = fromRecorded(raw, true);
    } catch (err) {
      if (!(err instanceof MalformedEventError)) throw err;
      await flush();
      return { appended, present, events, refused: refusalOf(raw, err.message) };
    }
    const head = await headOf(e.origin);
    if (e.seq <= head.stored) {
      // Present only if it is the same event: the same signature over the same bytes.
      const held = await storedAt(e.origin, e.seq);
      if (held && held.id === e.id && held.metadata.sig === raw.metadata.sig) {
        present += 1;
        continue;
      }
      const forged = !trust.signedByOrigin(raw, e.origin, e.seq);
      await flush();
      const refusal: Refusal = {
        origin: e.origin,
        seq: String(e.seq),
        eventId: e.id,
        reason: forged ? 'bad-signature' : 'equivocation',
        detail: forged
          ? `${e.origin}:${e.seq} is held here as another event, and this one is not signed by ${e.origin}`
          : `${e.origin} signed two different events as seq ${e.seq}`,
        ...(forged || !held ? {} : { evidence: [held, raw] as const }),
      };
      return { appended, present, events, refused: refusal };
    }
    if (e.seq !== head.stored + 1n) {
      await flush();
      return {
        appended,
        present,
        events,
        refused: {
          origin: e.origin,
          seq: String(e.seq),
          eventId: e.id,
          reason: 'gap',
          detail: `this node holds ${head.stored} events of ${e.origin}; the next is ${head.stored + 1n}`,
        },
      };
    }
    let verdict = trust.check(raw, e, head.hash, rotations.get(e.origin));
    if ('unknown' in verdict) {
      // The events before it may enroll its origin: store and apply them, then look again.
      await flush();
      await deps.settle(events);
      trust.invalidate();
      verdict = trust.check(raw, e, head.hash, rotations.get(e.origin));
      if ('unknown' in verdict)
        return {
          appended,
          present,
          events,
          held: { origin: e.origin, seq: String(e.seq), detail: verdict.unknown },
        };
    }
    if ('refused' in verdict) {
      await flush();
      return { appended, present, events, refused: verdict.refused };
    }
    // An event from further ahead than the allowed drift is held, not stored (so not applied and
    // not relayed), until this node's clock is within range of it: one far-future timestamp would
    // otherwise win every last-writer-wins register for good.
    const ahead = aheadOfNow(e.hlc, deps.now(), deps.maxDriftMs);
    if (ahead > 0) {
      await flush();
      return {
        appended,
        present,
        events,
        held: {
          origin: e.origin,
          seq: String(e.seq),
          detail: `its clock is ${ahead} ms beyond this node's drift limit (hlc ${e.hlc})`,
        },
      };
    }
    heads.set(e.origin, { stored: e.seq, hash: verdict.hash });
    noteRotation(e);
    accepted.push({ raw, e });
    events.push(e);
  }
  await flush();
  return { appended, present, events };
};
