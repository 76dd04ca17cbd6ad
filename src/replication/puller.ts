// One puller per configured peer: reads the peer's feed from a checkpoint kept per peer, appends
// the events this node lacks to their origin streams (ingest), and lets the catch-up subscription
// project them. Idempotent and resumable; any topology works because a feed relays every origin.

import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { type Envelope, fromRecorded } from '../events/envelope.ts';
import type { AuthlogNode } from '../node/node.ts';
import { hlcWallMs } from './hlc.ts';
import { ingest } from './ingest.ts';
import { decodeVector, seqOf } from './version-vector.ts';

export type Peer = { readonly url: string; readonly token: string };

export type PeerStatus = {
  readonly url: string;
  readonly connected: boolean;
  readonly lastPullAt: string | null;
  /** Events the peer has applied that this node has not (from the peer's vector). */
  readonly lagEvents: number;
  /** How long ago the newest event pulled from this peer was made at its origin, when pulled. */
  readonly lastDelayMs: number | null;
  readonly pulled: number;
  readonly error: string | null;
};

const Page = TypeCompiler.Compile(
  Type.Object({
    events: Type.Array(
      Type.Object({
        id: Type.String(),
        type: Type.String(),
        data: Type.Record(Type.String(), Type.Unknown()),
        metadata: Type.Record(Type.String(), Type.Unknown()),
      }),
    ),
    next: Type.String({ maxLength: 200 }),
    vector: Type.Record(Type.String(), Type.String()),
  }),
);

export const peerCheckpoint = (url: string) => `peer:${url}`;

export type Puller = { status(): PeerStatus; stop(): Promise<void> };

export const startPuller = (options: {
  node: AuthlogNode;
  peer: Peer;
  log: Logger;
  limit?: number;
  waitMs?: number;
}): Puller => {
  const { node, peer, log } = options;
  const limit = options.limit ?? 500;
  const waitMs = options.waitMs ?? 10_000;
  const name = peerCheckpoint(peer.url);
  let cursor = node.projector.checkpoint(name) ?? '';
  let stopped = false;
  let abort = new AbortController();
  let connected = false;
  let lastPullAt: string | null = null;
  let lagEvents = 0;
  let lastDelayMs: number | null = null;
  let pulled = 0;
  let error: string | null = null;
  let lastErrorLogged = '';
  let projecting: Promise<void> = Promise.resolve();

  const pullOnce = async () => {
    const url = new URL('/v1/replication/feed', peer.url);
    url.searchParams.set('limit', String(limit));
    url.searchParams.set('wait', String(waitMs));
    if (cursor) url.searchParams.set('after', cursor);
    abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), waitMs + 15_000);
    try {
      const r = await fetch(url, {
        headers: { authorization: `Bearer ${peer.token}` },
        signal: abort.signal,
      });
      const body: unknown = await r.json().catch(() => undefined);
      if (!r.ok) {
        const code =
          typeof body === 'object' && body !== null && 'code' in body ? String(body.code) : '';
        throw new Error(`peer answered ${r.status} ${code}`.trim());
      }
      if (!Page.Check(body)) throw new Error('peer sent a malformed feed page');
      // Everything from a peer crosses a trust boundary: validate every event against the catalogue.
      const events: Envelope[] = body.events.map((e) =>
        fromRecorded(
          { id: e.id, type: e.type, data: e.data as never, metadata: e.metadata as never },
          true,
        ),
      );
      if (events.length > 0) {
        await ingest(node.store, events);
        pulled += events.length;
        lastDelayMs = Math.max(0, Date.now() - hlcWallMs(events.at(-1)!.hlc));
      }
      if (events.length > 0 || body.next !== cursor) {
        cursor = body.next;
        // Project what was just stored, with the cursor, in one read-model transaction, while the
        // next page is fetched (one projection in flight: backpressure). The catch-up
        // subscription meets these events again and skips them as applied.
        await projecting;
        projecting = node.writer.apply(events, { name, position: cursor });
      }
      const theirs = decodeVector(body.vector);
      lagEvents = 0;
      for (const origin in theirs) {
        const gap = theirs[origin]! - seqOf(node.projector.applied, origin);
        if (gap > 0n) lagEvents += Number(gap);
      }
      connected = true;
      error = null;
      lastPullAt = new Date().toISOString();
    } finally {
      clearTimeout(timeout);
    }
  };

  const loop = (async () => {
    let backoff = 0;
    while (!stopped) {
      try {
        await pullOnce();
        backoff = 0;
      } catch (err) {
        projecting = Promise.resolve();
        if (stopped) break;
        connected = false;
        error = err instanceof Error ? err.message : String(err);
        if (error !== lastErrorLogged) {
          log.warn({ peer: peer.url, err: error }, 'pulling from peer failed; retrying');
          lastErrorLogged = error;
        }
        backoff = Math.min(backoff === 0 ? 200 : backoff * 2, 5000);
        await new Promise((r) => setTimeout(r, backoff));
      }
    }
  })();

  return {
    status: () => ({ url: peer.url, connected, lastPullAt, lagEvents, lastDelayMs, pulled, error }),
    async stop() {
      stopped = true;
      abort.abort();
      await loop;
      await projecting.catch(() => undefined);
    },
  };
};
