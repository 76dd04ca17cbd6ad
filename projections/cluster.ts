// Cluster membership (docs/replication-trust.md): the nodes enrolled to originate events, the
// keys each signs with from which of its seqs on, the families of events each may write, from
// which seq a removed node's events are inert, and the equivocations proven against a node.
// Ingest (src/node/trust.ts) verifies every event a peer serves against this state.
//
// Registers: a node's enrollment is a creation fact, the earliest enrollment (HLC) wins among
// concurrent ones (a second enrollment of one id is refused by the command, so two only meet when
// made at two sites at once; the loser is listed as a conflict); a removal is restrictive (the
// lowest `fromSeq` wins, whatever the order); keys are keyed by the seq they start at, written
// only by the origin itself, in its own order.

import type { EventPayload } from '../src/events/catalogue.ts';
import { hashBytes, signingBytes } from '../src/events/signature.ts';
import type { Projection, Reader } from '../src/readmodel/projection.ts';
import { sql } from '../src/readmodel/projection.ts';
import { str, stringList, strOrNull } from '../src/readmodel/rows.ts';
import type { JsonObject } from '../src/store/port.ts';

export type ClusterNode = {
  readonly nodeId: string;
  readonly families: readonly string[];
  /** Seq from which the node's events are refused, when removed. */
  readonly removedFrom: bigint | null;
  readonly removalReason: string | null;
  readonly enrolledAt: string;
};

export type NodeKeySpan = {
  readonly nodeId: string;
  readonly fromSeq: bigint;
  readonly publicKey: string;
};

export type Equivocation = {
  readonly origin: string;
  readonly seq: bigint;
  readonly hashes: readonly [string, string];
  readonly detectedAt: string;
};

/** The hash of an event carried as evidence (both halves are checked at ingest: trust.ts). */
const evidenceHash = (raw: unknown): string =>
  hashBytes(
    signingBytes(raw as { id: string; type: string; data: JsonObject; metadata: JsonObject }),
  );

export const cluster: Projection = {
  name: 'cluster',
  // A node removed from a seq on: its events from that seq are inert on every node — stored
  // (they are validly signed, and later events of others may depend on them) but without effect.
  // A removal is not inert by itself (a node's own removal of itself, at or after its `fromSeq`):
  // applied, it is not yet recorded when the rule is asked, so in a replay it is not either.
  inert: (e, read) =>
    read.get(
      `SELECT 1 AS x FROM cluster_removals WHERE node_id = ? AND from_seq <= ?
       UNION ALL SELECT 1 FROM _cluster_foresight
        WHERE node_id = ? AND from_seq <= ? AND event_id <> ? LIMIT 1`,
      e.origin,
      e.seq,
      e.origin,
      e.seq,
      e.id,
    )
      ? `its origin ${e.origin} is removed from this seq on`
      : undefined,
  // The removal counts even when it comes from a removed node's inert event.
  seesInert: ['NodeRemoved'],
  foresight: (e) =>
    e.type === 'NodeRemoved'
      ? [
          sql(
            'INSERT OR IGNORE INTO _cluster_foresight (event_id, node_id, from_seq) VALUES (?, ?, ?)',
            e.id,
            e.data.nodeId,
            BigInt(e.data.fromSeq),
          ),
        ]
      : [],
  // A removal of seqs this node has applied takes their effects back: a replay.
  retroactive: (e, _read, applied) =>
    e.type === 'NodeRemoved' && (applied[e.data.nodeId] ?? 0n) >= BigInt(e.data.fromSeq),
  ddl: [
    `CREATE TABLE cluster_nodes (
      node_id TEXT PRIMARY KEY, families TEXT NOT NULL, enrolled_hlc TEXT NOT NULL,
      enrolled_event TEXT NOT NULL) WITHOUT ROWID`,
    // Removals, founders' included: the lowest seq wins, so the order they come in is moot.
    `CREATE TABLE cluster_removals (
      node_id TEXT PRIMARY KEY, from_seq INTEGER NOT NULL, reason TEXT NOT NULL,
      event_id TEXT NOT NULL, hlc TEXT NOT NULL) WITHOUT ROWID`,
    // A replay's knowledge of every removal in the log before the first event is applied.
    `CREATE TABLE _cluster_foresight (
      event_id TEXT PRIMARY KEY, node_id TEXT NOT NULL, from_seq INTEGER NOT NULL) WITHOUT ROWID`,
    'CREATE INDEX _cluster_foresight_node ON _cluster_foresight (node_id, from_seq)',
    `CREATE TABLE cluster_enrollment_losers (
      node_id TEXT NOT NULL, event_id TEXT NOT NULL, hlc TEXT NOT NULL,
      PRIMARY KEY (node_id, event_id)) WITHOUT ROWID`,
    `CREATE TABLE cluster_keys (
      node_id TEXT NOT NULL, from_seq TEXT NOT NULL, public_key TEXT NOT NULL,
      PRIMARY KEY (node_id, from_seq)) WITHOUT ROWID`,
    `CREATE TABLE cluster_equivocations (
      origin TEXT NOT NULL, seq TEXT NOT NULL, hash_a TEXT NOT NULL, hash_b TEXT NOT NULL,
      detected_hlc TEXT NOT NULL, PRIMARY KEY (origin, seq, hash_a, hash_b)) WITHOUT ROWID`,
  ],
  conflicts: [
    `SELECT 'enrollment', 'node', l.node_id, n.enrolled_event, 'enrolled twice at once; the earliest enrollment stands', l.hlc
       FROM cluster_enrollment_losers l JOIN cluster_nodes n ON n.node_id = l.node_id`,
    `SELECT 'equivocation', 'node', origin, seq, 'two different signed events for one seq', detected_hlc
       FROM cluster_equivocations`,
  ],
  handlers: {
    NodeEnrolled: (e) => {
      const d: EventPayload<'NodeEnrolled'> = e.data;
      return [
        {
          derive: (read) => {
            const current = read.get(
              'SELECT enrolled_hlc, enrolled_event FROM cluster_nodes WHERE node_id = ?',
              d.nodeId,
            );
            const families = JSON.stringify([...d.families].sort());
            if (current === undefined)
              return [
                sql(
                  'INSERT INTO cluster_nodes (node_id, families, enrolled_hlc, enrolled_event) VALUES (?, ?, ?, ?)',
                  d.nodeId,
                  families,
                  e.hlc,
                  e.id,
                ),
                sql(
                  'INSERT OR IGNORE INTO cluster_keys (node_id, from_seq, public_key) VALUES (?, ?, ?)',
                  d.nodeId,
                  '1',
                  d.publicKey,
                ),
              ];
            // Concurrent enrollments of one id: the earliest stands, the others are listed.
            const earlier = e.hlc < str(current, 'enrolled_hlc');
            if (!earlier)
              return [
                sql(
                  'INSERT OR IGNORE INTO cluster_enrollment_losers (node_id, event_id, hlc) VALUES (?, ?, ?)',
                  d.nodeId,
                  e.id,
                  e.hlc,
                ),
              ];
            return [
              sql(
                'INSERT OR IGNORE INTO cluster_enrollment_losers (node_id, event_id, hlc) VALUES (?, ?, ?)',
                d.nodeId,
                str(current, 'enrolled_event'),
                str(current, 'enrolled_hlc'),
              ),
              sql(
                'UPDATE cluster_nodes SET families = ?, enrolled_hlc = ?, enrolled_event = ? WHERE node_id = ?',
                families,
                e.hlc,
                e.id,
                d.nodeId,
              ),
              sql(
                'UPDATE cluster_keys SET public_key = ? WHERE node_id = ? AND from_seq = ?',
                d.publicKey,
                d.nodeId,
                '1',
              ),
            ];
          },
        },
      ];
    },
    NodeRemoved: (e) => {
      const d: EventPayload<'NodeRemoved'> = e.data;
      // The lowest seq wins (then the lowest reason, then event id): whatever the order.
      return [
        sql(
          `INSERT INTO cluster_removals (node_id, from_seq, reason, event_id, hlc) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (node_id) DO UPDATE SET from_seq = excluded.from_seq, reason = excluded.reason,
              event_id = excluded.event_id, hlc = excluded.hlc
            WHERE (excluded.from_seq, excluded.reason, excluded.event_id) < (from_seq, reason, event_id)`,
          d.nodeId,
          BigInt(d.fromSeq),
          d.reason,
          e.id,
          e.hlc,
        ),
      ];
    },
    NodeKeyRotated: (e) => [
      sql(
        'INSERT OR IGNORE INTO cluster_keys (node_id, from_seq, public_key) VALUES (?, ?, ?)',
        e.origin,
        String(e.seq + 1n),
        e.data.publicKey,
      ),
    ],
    EquivocationDetected: (e) => {
      const [a, b] = e.data.events.map(evidenceHash).sort() as [string, string];
      return [
        sql(
          `INSERT INTO cluster_equivocations (origin, seq, hash_a, hash_b, detected_hlc) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO UPDATE SET detected_hlc = MIN(detected_hlc, excluded.detected_hlc)`,
          e.data.origin,
          e.data.seq,
          a,
          b,
          e.hlc,
        ),
      ];
    },
  },
};

export const clusterNodes = (read: Reader): ClusterNode[] =>
  read
    .all(
      `SELECT n.node_id, n.families, n.enrolled_hlc, r.from_seq, r.reason
         FROM cluster_nodes n LEFT JOIN cluster_removals r ON r.node_id = n.node_id
        ORDER BY n.node_id`,
    )
    .map((r) => ({
      nodeId: str(r, 'node_id'),
      families: stringList(r, 'families'),
      removedFrom: r.from_seq === null || r.from_seq === undefined ? null : BigInt(r.from_seq),
      removalReason: strOrNull(r, 'reason'),
      enrolledAt: str(r, 'enrolled_hlc'),
    }));

/** The seq from which `nodeId`'s events are inert, if it was removed (founders too). */
export const removedFrom = (read: Reader, nodeId: string): bigint | null => {
  const row = read.get('SELECT from_seq FROM cluster_removals WHERE node_id = ?', nodeId);
  return row === undefined ? null : BigInt(row.from_seq as number | bigint);
};

export const nodeKeySpans = (read: Reader): NodeKeySpan[] =>
  read.all('SELECT node_id, from_seq, public_key FROM cluster_keys').map((r) => ({
    nodeId: str(r, 'node_id'),
    fromSeq: BigInt(str(r, 'from_seq')),
    publicKey: str(r, 'public_key'),
  }));

export const equivocations = (read: Reader): Equivocation[] =>
  read
    .all(
      'SELECT origin, seq, hash_a, hash_b, detected_hlc FROM cluster_equivocations ORDER BY origin, seq',
    )
    .map((r) => ({
      origin: str(r, 'origin'),
      seq: BigInt(str(r, 'seq')),
      hashes: [str(r, 'hash_a'), str(r, 'hash_b')] as const,
      detectedAt: str(r, 'detected_hlc'),
    }));

/** Whether a node id was ever enrolled (the enroll command refuses to enroll it again). */
export const isEnrolled = (read: Reader, nodeId: string): boolean =>
  read.get('SELECT 1 AS x FROM cluster_nodes WHERE node_id = ?', nodeId) !== undefined;
