// Who may originate what (docs/replication-trust.md). A node believes an event because of the
// event itself — its origin's signature with the key enrolled for that seq, an intact chain, a
// family its origin may write, an origin not removed at that seq — never because of the peer
// that delivered it. The founders (the cluster file, src/boot/cluster.ts) are trusted from
// configuration; every other node is enrolled by a replicated `NodeEnrolled` event, and keys
// rotate by the origin's own `NodeKeyRotated` (signed by the old key). This module holds that
// state, read from the read model (projections/cluster.ts), and checks events against it.
import type { KeyObject } from 'node:crypto';
import {
  clusterNodes,
  equivocations,
  type NodeKeySpan,
  nodeKeySpans,
  removedFrom,
} from '../../projections/cluster.ts';
import { type EventFamily, type EventType, familyOf } from '../events/catalogue.ts';
import type { Envelope } from '../events/envelope.ts';
import { hashBytes, publicKeyObject, signingBytes, verifySignature } from '../events/signature.ts';
import type { Reader } from '../readmodel/projection.ts';
import type { EventData } from '../store/port.ts';

/** An event as stored and served: what signatures cover. */
export type RawEvent = Pick<EventData, 'id' | 'type' | 'data' | 'metadata'>;

/** The founders' keys by node id (the cluster file): trusted without an enrollment event. */
export type Founders = (nodeId: string) => string | undefined;

/** Why an event is refused. Stable words: status, metrics and the audit trail use them. */
export type RefusalReason =
  | 'unsigned'
  | 'bad-signature'
  | 'broken-chain'
  | 'gap'
  | 'family-not-allowed'
  | 'equivocation'
  | 'false-evidence'
  | 'malformed';

export type Refusal = {
  readonly origin: string;
  readonly seq: string;
  readonly eventId: string;
  readonly reason: RefusalReason;
  readonly detail: string;
  /** For an equivocation: the event this node holds and the one offered, both validly signed. */
  readonly evidence?: readonly [RawEvent, RawEvent];
};

export type Member = {
  readonly nodeId: string;
  readonly founder: boolean;
  readonly families: ReadonlySet<EventFamily> | 'all';
  readonly removedFrom: bigint | null;
  /** Keys by the first seq they sign, latest first. */
  readonly keys: readonly {
    readonly fromSeq: bigint;
    readonly publicKey: string;
    readonly key: KeyObject;
  }[];
};

export type TrustSummary = {
  readonly members: readonly {
    readonly node: string;
    readonly founder: boolean;
    readonly families: readonly string[] | 'all';
    readonly removedFrom: string | null;
    readonly keys: number;
  }[];
  readonly equivocations: readonly { readonly origin: string; readonly seq: string }[];
};

export type Trust = {
  /** Drops what was read from the read model; the next question reads it again. */
  invalidate(): void;
  member(nodeId: string): Member | undefined;
  /** Why `nodeId` may not originate an event of `type` at `seq`, or undefined when it may. */
  mayOriginate(nodeId: string, type: EventType, seq: bigint): string | undefined;
  /** Checks one event against the origin's key, chain (`prevHash`: the hash of the origin's
   * previous event, undefined before its first) and enrollment. Returns the event's hash, a
   * refusal, or `unknown` when its origin is not (yet) enrolled here. `rotations`: the origin's
   * key rotations stored but not yet applied (ingest.ts), oldest first. */
  check(
    raw: RawEvent,
    e: Envelope,
    prevHash: string | undefined,
    rotations?: readonly KeySpan[],
  ): { readonly hash: string } | { readonly refused: Refusal } | { readonly unknown: string };
  /** Whether `raw` is a validly signed event of its origin at its seq (equivocation evidence). */
  signedByOrigin(raw: RawEvent, origin: string, seq: bigint): boolean;
  summary(): TrustSummary;
};

export type KeySpan = { readonly fromSeq: bigint; readonly publicKey: string };

/** `m`'s keys with rotations not yet in the read model in front (newest first). */
const withRotations = (m: Member, rotations: readonly KeySpan[] | undefined): Member => {
  const newer = (rotations ?? []).filter((r) => r.fromSeq > (m.keys[0]?.fromSeq ?? 0n));
  if (newer.length === 0) return m;
  return {
    ...m,
    keys: [
      ...newer
        .map((r) => ({ ...r, key: publicKeyObject(r.publicKey) }))
        .sort((a, b) => (a.fromSeq > b.fromSeq ? -1 : 1)),
      ...m.keys,
    ],
  };
};

const keyAt = (m: Pick<Member, 'keys'>, seq: bigint) => m.keys.find((k) => k.fromSeq <= seq)?.key;

/** The integrity half of a check, from the event and its origin's keys alone: signed with the
 * key for its seq, and chained to `prevHash` (the hash of the origin's previous event, undefined
 * before its first). Ingest (`check` below) and the log verifier (chain.ts) both ask it. */
export const checkSigned = (
  m: Pick<Member, 'keys'>,
  raw: RawEvent,
  e: Envelope,
  prevHash: string | undefined,
): { readonly hash: string } | { readonly refused: Refusal } => {
  const refuse = (reason: RefusalReason, detail: string) => ({
    refused: { origin: e.origin, seq: String(e.seq), eventId: e.id, reason, detail },
  });
  if (typeof raw.metadata.sig !== 'string') return refuse('unsigned', 'the event has no signature');
  const bytes = signingBytes(raw);
  const key = keyAt(m, e.seq);
  if (!key || !verifySignature(key, bytes, raw.metadata.sig))
    return refuse('bad-signature', `not signed with the key of ${e.origin} for seq ${e.seq}`);
  if (e.prev !== prevHash)
    return refuse(
      'broken-chain',
      prevHash === undefined
        ? 'the first event of an origin names a previous one'
        : `prev does not match the hash of ${e.origin}:${e.seq - 1n}`,
    );
  return { hash: hashBytes(bytes) };
};

/** A node's keys, latest first: a founder's configured key from seq 1 (in place of an enrolled
 * one), then the spans the log holds (enrollment, rotations). */
const keysOf = (
  spans: readonly NodeKeySpan[],
  id: string,
  founderKey: string | undefined,
): Member['keys'] =>
  [
    ...(founderKey === undefined ? [] : [{ fromSeq: 1n, publicKey: founderKey }]),
    ...spans.filter((s) => s.nodeId === id && (founderKey === undefined || s.fromSeq !== 1n)),
  ]
    .map((s) => ({ fromSeq: s.fromSeq, publicKey: s.publicKey, key: publicKeyObject(s.publicKey) }))
    .sort((a, b) => (a.fromSeq > b.fromSeq ? -1 : a.fromSeq < b.fromSeq ? 1 : 0));

export const createTrust = (options: { founders: Founders; read: Reader }): Trust => {
  let members: Map<string, Member> | undefined;
  const founderMembers = new Map<string, Member>();

  const load = (): Map<string, Member> => {
    const spans = nodeKeySpans(options.read);
    const built = new Map<string, Member>();
    for (const n of clusterNodes(options.read)) {
      const founderKey = options.founders(n.nodeId);
      built.set(n.nodeId, {
        nodeId: n.nodeId,
        founder: founderKey !== undefined,
        families: founderKey !== undefined ? 'all' : new Set(n.families as EventFamily[]),
        removedFrom: n.removedFrom,
        keys: keysOf(spans, n.nodeId, founderKey),
      });
    }
    return built;
  };

  const member = (nodeId: string): Member | undefined => {
    members ??= load();
    const enrolled = members.get(nodeId);
    if (enrolled) return enrolled;
    const founderKey = options.founders(nodeId);
    if (founderKey === undefined) return undefined;
    // A founder never enrolled by an event: its configured key, and rotations from the log.
    let m = founderMembers.get(nodeId);
    if (!m) {
      m = {
        nodeId,
        founder: true,
        families: 'all',
        removedFrom: removedFrom(options.read, nodeId),
        keys: keysOf(nodeKeySpans(options.read), nodeId, founderKey),
      };
      founderMembers.set(nodeId, m);
    }
    return m;
  };

  const familyRefusal = (m: Member, type: EventType): string | undefined => {
    // A node may always rotate its own key: the rotation is signed by the key it replaces.
    if (type === 'NodeKeyRotated') return undefined;
    const family = familyOf[type];
    if (m.families !== 'all' && !m.families.has(family))
      return `node ${m.nodeId} may not originate ${family} events (${type})`;
    return undefined;
  };

  const mayOriginate = (nodeId: string, type: EventType, seq: bigint): string | undefined => {
    const m = member(nodeId);
    if (!m) return `node ${nodeId} is not enrolled`;
    if (m.removedFrom !== null && seq >= m.removedFrom)
      return `node ${nodeId} is removed from seq ${m.removedFrom}`;
    return familyRefusal(m, type);
  };

  const signedByOrigin = (raw: RawEvent, origin: string, seq: bigint): boolean => {
    const m = member(origin);
    const key = m && keyAt(m, seq);
    const sig = raw.metadata.sig;
    if (!key || typeof sig !== 'string') return false;
    if (raw.metadata.origin !== origin || raw.metadata.seq !== String(seq)) return false;
    try {
      return verifySignature(key, signingBytes(raw), sig);
    } catch {
      return false;
    }
  };

  return {
    invalidate() {
      members = undefined;
      founderMembers.clear();
    },
    member,
    mayOriginate,
    signedByOrigin,
    check(raw, e, prevHash, rotations) {
      const refuse = (reason: RefusalReason, detail: string) => ({
        refused: { origin: e.origin, seq: String(e.seq), eventId: e.id, reason, detail },
      });
      const enrolled = member(e.origin);
      if (!enrolled) return { unknown: `origin ${e.origin} is not enrolled` };
      const m = withRotations(enrolled, rotations);
      // A removed origin's events from its removal seq on are taken, signature and chain checked,
      // and are inert (projections/cluster.ts): others' events may depend on them.
      const signed = checkSigned(m, raw, e, prevHash);
      if ('refused' in signed) return signed;
      const why = familyRefusal(m, e.type);
      if (why !== undefined) return refuse('family-not-allowed', why);
      if (e.type === 'NodeKeyRotated' && e.data.publicKey === m.keys[0]?.publicKey)
        return refuse('malformed', 'a key rotation to the key in use');
      if (e.type === 'EquivocationDetected') {
        const seq = BigInt(e.data.seq);
        const [a, b] = e.data.events as unknown as [RawEvent, RawEvent];
        if (!member(e.data.origin)) return { unknown: `origin ${e.data.origin} is not enrolled` };
        const distinct = hashBytes(signingBytes(a)) !== hashBytes(signingBytes(b));
        if (
          !distinct ||
          !signedByOrigin(a, e.data.origin, seq) ||
          !signedByOrigin(b, e.data.origin, seq)
        )
          return refuse(
            'false-evidence',
            'the evidence is not two different events signed by the origin',
          );
      }
      return signed;
    },
    summary() {
      members ??= load();
      const ids = [...members.keys()];
      return {
        members: ids.sort().map((id) => {
          const m = members!.get(id)!;
          return {
            node: id,
            founder: m.founder,
            families: m.families === 'all' ? 'all' : [...m.families].sort(),
            removedFrom: m.removedFrom === null ? null : String(m.removedFrom),
            keys: m.keys.length,
          };
        }),
        equivocations: equivocations(options.read).map((q) => ({
          origin: q.origin,
          seq: String(q.seq),
        })),
      };
    },
  };
};
