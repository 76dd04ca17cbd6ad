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
import type { Ingest } from '../node/ports.ts';
import type { RawEvent, Refusal } from '../node/trust.ts';

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
  /** The event this peer served that this node refused, and why: pulling from it has stopped
   * there (it is tried again now and then) until the peer serves something else. */
  readonly refused: Refusal | null;
  /** Events refused from this peer since start, by reason. */
  readonly refusals: Readonly<Record<string, number>>;
  /** The event pulling from this peer waits on: its origin is not enrolled here yet, or its clock
   * is beyond the drift limit. */
  readonly held: { readonly origin: string; readonly seq: string; readonly detail: string } | null;
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

/** A page stopped at an event this node refused. */
class RefusedPage extends Error {
  constructor(readonly refusal: Refusal) {
    super(`refused ${refusal.origin}:${refusal.seq} (${refusal.reason}): ${refusal.detail}`);
  }
}

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

/** How long a puller waits before it asks a peer again after refusing one of its events. */
const REFUSED_RETRY_MS = 30_000;

export const startPuller = (options: {
  /** The node's ingest port (`node.ingest`): the puller never holds the store or the writer. */
  ingest: Ingest;
  /** Records a refusal in the log (an audit record, an equivocation's evidence); called once per
   * event and reason. */
  onRefused?: (peer: string, refusal: Refusal) => Promise<void>;
  refusedRetryMs?: number;
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
  let refused: Refusal | null = null;
  let held: PeerStatus['held'] = null;
  const refusals: Record<string, number> = {};
  const reported = new Set<string>();
  let lastErrorLogged = '';
  let projecting: Promise<void> = Promise.resolve();
  let sleeping: (() => void) | undefined;

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
      // Everything from a peer crosses a trust boundary: ingest checks every event against the
      // catalogue, its origin's signature and chain, and the origin's enrollment.
      const result = await ingest.append(body.events as unknown as RawEvent[]);
      const events = result.events;
      if (events.length > 0) {
        pulled += result.appended;
        lastDelayMs = Math.max(0, Date.now() - hlcWallMs(events.at(-1)!.hlc));
      }
      if (result.refused || result.held) {
        // Stop on this peer: project what was accepted, keep the cursor where it was (the page is
        // asked for again, its accepted part is then present) and say why.
        await projecting;
        projecting = Promise.resolve();
        if (events.length > 0) await ingest.project(events);
        if (result.refused) throw new RefusedPage(result.refused);
        held = result.held ?? null;
        throw new Error(`waiting on ${held?.origin}:${held?.seq}: ${held?.detail}`);
      }
      refused = null;
      held = null;
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
        let wait = Math.min(backoff === 0 ? 200 : backoff * 2, 5000);
        backoff = wait;
        if (err instanceof RefusedPage) {
          const r = err.refusal;
          refused = r;
          connected = true;
          wait = options.refusedRetryMs ?? REFUSED_RETRY_MS;
          const key = `${r.origin}|${r.seq}|${r.eventId}|${r.reason}`;
          if (!reported.has(key)) {
            reported.add(key);
            refusals[r.reason] = (refusals[r.reason] ?? 0) + 1;
            log.error(
              { peer: peer.url, ...r, evidence: undefined },
              'refused an event a peer served',
            );
            await options
              .onRefused?.(peer.url, r)
              .catch((e: unknown) => log.error({ err: e }, 'recording a refusal failed'));
          }
        } else if (error !== lastErrorLogged) {
          log.warn({ peer: peer.url, err: error }, 'pulling from peer failed; retrying');
          lastErrorLogged = error;
        }
        await new Promise((r) => {
          const t = setTimeout(r, wait);
          sleeping = () => {
            clearTimeout(t);
            r(undefined);
          };
        });
        sleeping = undefined;
      }
    }
  })();

  return {
    status: () => ({
      url: peer.url,
      connected,
      lastPullAt,
      lagEvents,
      lastDelayMs,
      pulled,
      error,
      refused: refused && { ...refused, evidence: undefined },
      refusals: { ...refusals },
      held,
    }),
    async stop() {
      stopped = true;
      abort.abort();
      sleeping?.();
      await loop;
      await projecting.catch(() => undefined);
      agent.destroy();
    },
  };
};
