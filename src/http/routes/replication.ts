// Replication over HTTP: the feed peers pull from, the node's replication status, and metrics in
// the Prometheus text format. Only principals holding `authlog.replicate` (or the operator) are
// served: a feed request without it gets 401/403, never data.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { authenticateToken } from '../../authn/tokens.ts';
import { AppError } from '../../errors.ts';
import { SYSTEM_ACTOR } from '../../events/envelope.ts';
import type { AuthlogNode } from '../../node/node.ts';
import { conflictCount } from '../../readmodel/conflicts.ts';
import { readFeed } from '../../replication/feed.ts';
import { clientIp } from '../proxy.ts';
import { errorResponses, Strict } from '../schemas.ts';
import type { App } from '../types.ts';

export const REPLICATE = 'authlog.replicate';

const requireReplicate = (app: App, request: FastifyRequest) => {
  const actor = request.auth?.actor;
  if (actor === undefined) throw new AppError('UNAUTHENTICATED', 'send a bearer token');
  if (actor === SYSTEM_ACTOR) return;
  const r = app.node.authz.check({ subject: { principalId: actor }, privilege: REPLICATE });
  if (!r.allow)
    throw new AppError('FORBIDDEN', `${REPLICATE} is required: ${r.reason}`, {
      privilege: REPLICATE,
    });
};

const countOrNaN = (count: () => number): number => {
  try {
    return count();
  } catch {
    return Number.NaN;
  }
};

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/**
 * Who a request to the replication routes authenticates as, when that principal holds
 * `authlog.replicate` (the operator token counts, as `system`); otherwise undefined. Used by the
 * rate limit, which runs before authentication, to give pulling peers their own, higher bucket:
 * a site catching up after a cut must not be throttled like an anonymous client (OWASP ASVS
 * 11.1.4: limits sized to the business need). Anything else is limited per address as before.
 */
export const replicationPrincipal = (
  node: AuthlogNode,
  operatorToken: string,
  request: FastifyRequest,
): string | undefined => {
  const route = request.routeOptions.url ?? '';
  if (!route.startsWith('/v1/replication/') && route !== '/metrics') return undefined;
  const m = /^Bearer ([!-~]{1,512})$/.exec(request.headers.authorization ?? '');
  if (!m) return undefined;
  const token = m[1]!;
  if (timingSafeEqual(sha256(token), sha256(operatorToken))) return SYSTEM_ACTOR;
  const holder = authenticateToken(node.read, token, clientIp(request), Date.now());
  if (!holder) return undefined;
  const r = node.authz.check({
    subject: { principalId: holder.principalId },
    privilege: REPLICATE,
  });
  return r.allow ? holder.principalId : undefined;
};

const PeerSchema = Type.Object({
  url: Type.String(),
  connected: Type.Boolean(),
  lastPullAt: Type.Union([Type.String(), Type.Null()]),
  lagEvents: Type.Integer(),
  lastDelayMs: Type.Union([Type.Integer(), Type.Null()]),
  pulled: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  refused: Type.Union([
    Type.Object({
      origin: Type.String(),
      seq: Type.String(),
      eventId: Type.String(),
      reason: Type.String(),
      detail: Type.String(),
    }),
    Type.Null(),
  ]),
  refusals: Type.Record(Type.String(), Type.Integer()),
  held: Type.Union([
    Type.Object({ origin: Type.String(), seq: Type.String(), detail: Type.String() }),
    Type.Null(),
  ]),
});

export const replicationRoutes = async (app: App) => {
  app.get(
    '/v1/replication/feed',
    {
      schema: {
        querystring: Type.Object(
          {
            after: Type.Optional(Type.String({ maxLength: 200, pattern: '^[A-Za-z0-9_-]*$' })),
            limit: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
            wait: Type.Integer({ minimum: 0, maximum: 30_000, default: 0 }),
          },
          Strict,
        ),
        response: {
          200: Type.Object({
            events: Type.Array(
              Type.Object({
                id: Type.String(),
                type: Type.String(),
                data: Type.Record(Type.String(), Type.Unknown()),
                metadata: Type.Record(Type.String(), Type.Unknown()),
              }),
            ),
            next: Type.String(),
            vector: Type.Record(Type.String(), Type.String()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      requireReplicate(app, request);
      const { after, limit, wait } = request.query;
      // Already JSON (stored event text spliced in, see feed.ts): sent as is, not re-serialized.
      const page = await readFeed(app.node.feed, {
        ...(after ? { after } : {}),
        limit,
        waitMs: wait,
      });
      return reply.type('application/json; charset=utf-8').send(page);
    },
  );

  app.get(
    '/v1/replication/status',
    {
      schema: {
        response: {
          200: Type.Object({
            node: Type.String(),
            vector: Type.Record(Type.String(), Type.String()),
            buffered: Type.Integer(),
            driftAlarms: Type.Integer(),
            conflicts: Type.Integer(),
            peers: Type.Array(PeerSchema),
            digest: Type.String(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      requireReplicate(app, request);
      const s = app.node.status();
      // A read model damaged while the node runs answers a problem, never a 500.
      let digest: string;
      let conflicts: number;
      try {
        digest = app.node.digest();
        conflicts = conflictCount(app.node.read);
      } catch (err) {
        request.log.error({ err }, 'digest could not be computed');
        throw new AppError('READ_MODEL_UNAVAILABLE', 'the node logged why under this request id');
      }
      return {
        node: s.node,
        vector: s.applied,
        buffered: s.buffered,
        driftAlarms: s.driftAlarms,
        conflicts,
        peers: [...app.peers()],
        digest,
      };
    },
  );

  app.get(
    '/metrics',
    { config: { public: false }, schema: { response: { 200: Type.String() } } },
    async (request, reply) => {
      requireReplicate(app, request);
      const s = app.node.status();
      const lines: string[] = [];
      const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
        for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
      };
      const label = (k: string, v: string) =>
        `{${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"}`;
      metric(
        'authlog_applied_seq',
        'gauge',
        'Highest applied sequence per origin.',
        Object.entries(s.applied).map(([o, seq]) => [label('origin', o), Number(seq)]),
      );
      metric('authlog_buffered_events', 'gauge', 'Events waiting for their causal dependencies.', [
        ['', s.buffered],
      ]);
      metric('authlog_conflicts', 'gauge', 'Conflicts settled by the convergence rules.', [
        // NaN (Prometheus' "no value") when the read model cannot be read: never a 500.
        ['', countOrNaN(() => conflictCount(app.node.read))],
      ]);
      metric(
        'authlog_clock_drift_alarms_total',
        'counter',
        'Remote clocks seen ahead beyond the drift limit.',
        [['', s.driftAlarms]],
      );
      metric('authlog_writer_events_total', 'counter', 'Events this node wrote as origin.', [
        ['', s.writer.events],
      ]);
      const peers = app.peers();
      metric(
        'authlog_peer_lag_events',
        'gauge',
        'Events a peer has applied that this node has not.',
        peers.map((p) => [label('peer', p.url), p.lagEvents]),
      );
      metric(
        'authlog_peer_delay_ms',
        'gauge',
        'Age of the newest event pulled from a peer when pulled.',
        peers.map((p) => [label('peer', p.url), p.lastDelayMs ?? 0]),
      );
      metric(
        'authlog_peer_pulled_events_total',
        'counter',
        'Events pulled from a peer.',
        peers.map((p) => [label('peer', p.url), p.pulled]),
      );
      metric(
        'authlog_replication_refused_total',
        'counter',
        'Events a peer served that this node refused (signature, chain, enrollment, family), by reason.',
        peers.flatMap((p) =>
          Object.entries(p.refusals).map(([reason, n]): [string, number] => [
            `{peer="${p.url.replaceAll('"', '')}",reason="${reason}"}`,
            n,
          ]),
        ),
      );
      metric(
        'authlog_replication_held',
        'gauge',
        '1 while pulling from a peer waits on an event it cannot take yet (origin not enrolled here, clock beyond the drift limit).',
        peers.map((p) => [label('peer', p.url), p.held ? 1 : 0]),
      );
      metric(
        'authlog_equivocating_origins',
        'gauge',
        'Origins proven to have signed two different events for one seq.',
        [['', new Set(s.trust.equivocations.map((q) => q.origin)).size]],
      );
      metric(
        'authlog_peer_up',
        'gauge',
        '1 when the last pull from a peer succeeded.',
        peers.map((p) => [label('peer', p.url), p.connected ? 1 : 0]),
      );
      return reply.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
    },
  );
};
