// One puller per configured peer: reads the peer's feed from a checkpoint kept per peer, appends
// the events this node lacks to their origin streams and projects them, through the node's
// `Ingest` port (node/ports.ts). Idempotent and resumable; any topology works because a feed
// relays every origin.

import http from 'node:http';
import https from 'node:https';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { hlcWallMs } from '../clock/hlc.ts';
import { decodeVector, seqOf } from '../clock/version-vector.ts';
import { type Envelope, fromRecorded } from '../events/envelope.ts';
import type { Ingest } from '../node/ports.ts';

export type Peer = { readonly url: string; readonly token: string };

/** How pullers reach https peers: the CA they trust (else the system's roots), and the client
 * certificate they present (the node's own, for peers that require mutual TLS). */
export type PeerTls = {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
};

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

/** GET with the node's agent; the body parsed as JSON (undefined when it is not JSON). */
const getJson = (
  url: URL,
  agent: http.Agent,
  authorization: string,
  signal: AbortSignal,
): Promise<{ status: number; body: unknown }> =>
  new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).get(
      url,
      { agent, headers: { authorization, accept: 'application/json' }, signal },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    request.on('error', reject);
  });

export const startPuller = (options: {
  /** The node's ingest port (`node.ingest`): the puller never holds the store or the writer. */
  ingest: Ingest;
  peer: Peer;
  log: Logger;
  tls?: PeerTls;
  limit?: number;
  waitMs?: number;
}): Puller => {
  const { ingest, peer, log } = options;
  const limit = options.limit ?? 500;
  const waitMs = options.waitMs ?? 10_000;
  const name = peerCheckpoint(peer.url);
  let cursor = ingest.checkpoint(name) ?? '';
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

  // One keep-alive connection per peer. Certificates are verified against `tls.ca` (or the
  // system's roots) and the peer's host name: a peer that cannot prove it is the URL we were
  // configured with gets no token and sends us nothing (OWASP ASVS 9.2.1, 9.2.2).
  const agent = peer.url.startsWith('https:')
    ? new https.Agent({ keepAlive: true, maxSockets: 1, ...options.tls })
    : new http.Agent({ keepAlive: true, maxSockets: 1 });

  const pullOnce = async () => {
    const url = new URL('/v1/replication/feed', peer.url);
    url.searchParams.set('limit', String(limit));
    url.searchParams.set('wait', String(waitMs));
    if (cursor) url.searchParams.set('after', cursor);
    abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), waitMs + 15_000);
    try {
      const r = await getJson(url, agent, `Bearer ${peer.token}`, abort.signal);
      const body = r.body;
      if (r.status !== 200) {
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
        await ingest.append(events);
        pulled += events.length;
        lastDelayMs = Math.max(0, Date.now() - hlcWallMs(events.at(-1)!.hlc));
      }
      if (events.length > 0 || body.next !== cursor) {
        cursor = body.next;
        // Project what was just stored, with the cursor, in one read-model transaction, while the
        // next page is fetched (one projection in flight: backpressure). The catch-up
        // subscription meets these events again and skips them as applied.
        await projecting;
        projecting = ingest.project(events, { name, position: cursor });
      }
      const theirs = decodeVector(body.vector);
      const ours = ingest.appliedVector();
      lagEvents = 0;
      for (const origin in theirs) {
        const gap = theirs[origin]! - seqOf(ours, origin);
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
      agent.destroy();
    },
  };
};
