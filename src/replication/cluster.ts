// Cluster membership commands (docs/replication-trust.md). Enrolling a node says which key signs
// its events and which families of events it may originate; removing it says from which of its
// seqs on every node refuses its events. Both need `authlog.cluster.manage` and an elevated
// session: a node enrolled with every family can write anything, administrators included (OWASP
// ASVS 8.2.1 least privilege; NIST SP 800-63B rev 4 on re-authentication for sensitive changes).
// Refusals and equivocations a puller meets are recorded here too, as events, so every node's
// audit trail shows them and every node flags an equivocating origin.
import { clusterNodes, isEnrolled } from '../../projections/cluster.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireElevation } from '../authz/elevation.ts';
import { seqOf } from '../clock/version-vector.ts';
import { AppError } from '../errors.ts';
import type { EventFamily } from '../events/catalogue.ts';
import type { Command } from '../node/command.ts';
import type { Refusal } from '../node/trust.ts';
import type { JsonObject } from '../store/port.ts';

export const MANAGE_CLUSTER = 'authlog.cluster.manage';

export type Enrollment = {
  readonly nodeId: string;
  readonly publicKey: string;
  readonly families: readonly EventFamily[];
};

export const enrollNode = (
  enrollment: Enrollment,
  isFounder: (nodeId: string) => boolean,
): Command<Enrollment> => ({
  name: 'cluster.enroll',
  decide(state, meta) {
    const authority = requirePrivilege(state, meta, MANAGE_CLUSTER);
    requireElevation(meta);
    if (isFounder(enrollment.nodeId) || isEnrolled(state, enrollment.nodeId))
      throw new AppError(
        'NODE_ALREADY_ENROLLED',
        `node ${enrollment.nodeId} is already a member: a node id is enrolled once (remove it and enroll a new id to change its key or families)`,
      );
    const families = [...new Set(enrollment.families)].sort();
    return {
      events: [{ type: 'NodeEnrolled', data: { ...enrollment, families } }],
      result: { ...enrollment, families },
      authority,
    };
  },
});

export type Removal = {
  readonly nodeId: string;
  readonly fromSeq: string;
  readonly reason: string;
};

/** `fromSeq` defaults to the first seq of the node this node has not applied: what it wrote
 * before is kept, anything after is refused. */
export const removeNode = (
  nodeId: string,
  reason: string,
  applied: () => Readonly<Record<string, bigint>>,
  isFounder: (nodeId: string) => boolean,
  fromSeq?: bigint,
): Command<Removal> => ({
  name: 'cluster.remove',
  decide(state, meta) {
    const authority = requirePrivilege(state, meta, MANAGE_CLUSTER);
    requireElevation(meta);
    if (!isFounder(nodeId) && !isEnrolled(state, nodeId))
      throw new AppError('NODE_NOT_FOUND', `node ${nodeId} is not a member of this cluster`);
    const current = clusterNodes(state).find((n) => n.nodeId === nodeId)?.removedFrom ?? null;
    const from = fromSeq ?? seqOf(applied(), nodeId) + 1n;
    if (current !== null && current <= from)
      throw new AppError('NODE_NOT_FOUND', `node ${nodeId} is already removed from seq ${current}`);
    const removal = { nodeId, fromSeq: String(from), reason };
    return { events: [{ type: 'NodeRemoved', data: removal }], result: removal, authority };
  },
});

/** This node's key rotation: `NodeKeyRotated` names the new public key, is signed by the key it
 * replaces, and the node's events from the next seq on are signed by the new one (trust.ts). Only
 * the node itself can rotate its key (its origin is the node); the operator starts it, with the
 * same privilege and elevation as enrolling. The private key never leaves the node's host
 * (src/boot/cluster.ts keeps it beside the current one until the rotation is in the log). */
export const rotateNodeKey = (
  publicKey: string,
  current: string,
): Command<{ publicKey: string }> => ({
  name: 'cluster.rotate-key',
  decide(state, meta) {
    const authority = requirePrivilege(state, meta, MANAGE_CLUSTER);
    requireElevation(meta);
    if (publicKey === current)
      throw new AppError('KEY_NOT_ROTATABLE', 'the new key is the key in use');
    return {
      events: [{ type: 'NodeKeyRotated', data: { publicKey } }],
      result: { publicKey },
      authority,
    };
  },
});

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

/** A refusal as an audit record; an equivocation with its evidence, which every node checks. */
export const recordRefusal = (peer: string, r: Refusal): Command<void> => ({
  name: 'replication.refused',
  decide: () => ({
    events: [
      r.reason === 'equivocation' && r.evidence
        ? {
            type: 'EquivocationDetected',
            data: {
              origin: r.origin,
              seq: r.seq,
              events: r.evidence.map((e) => ({
                id: e.id,
                type: e.type,
                data: e.data as JsonObject,
                metadata: e.metadata as JsonObject,
              })),
            },
          }
        : {
            type: 'ReplicationRefused',
            data: {
              peer: clip(peer, 500),
              origin: clip(r.origin, 100),
              seq: clip(r.seq, 40),
              eventId: clip(r.eventId, 100),
              reason: clip(`${r.reason}: ${r.detail}`, 500),
            },
          },
    ],
    result: undefined,
  }),
});
