// Version vectors: for each origin, the highest per-origin sequence number covered. An event
// (origin o, seq s) happened before an event whose deps cover it: deps[o] >= s.

export type VersionVector = Readonly<Record<string, bigint>>;

export const seqOf = (vv: VersionVector, origin: string): bigint => vv[origin] ?? 0n;

export const covers = (vv: VersionVector, origin: string, seq: bigint): boolean =>
  seqOf(vv, origin) >= seq;

/** True when every entry of `needed` is covered by `vv`. */
export const coversAll = (vv: VersionVector, needed: VersionVector): boolean => {
  for (const origin in needed) if (seqOf(vv, origin) < needed[origin]!) return false;
  return true;
};

export type Ordering = 'equal' | 'before' | 'after' | 'concurrent';

export const compare = (a: VersionVector, b: VersionVector): Ordering => {
  const aCoversB = coversAll(a, b);
  const bCoversA = coversAll(b, a);
  if (aCoversB && bCoversA) return 'equal';
  if (aCoversB) return 'after';
  if (bCoversA) return 'before';
  return 'concurrent';
};

export const merge = (a: VersionVector, b: VersionVector): VersionVector => {
  const out: Record<string, bigint> = { ...a };
  for (const origin in b) if (seqOf(out, origin) < b[origin]!) out[origin] = b[origin]!;
  return out;
};

/** Wire form: decimal strings, sorted by origin so equal vectors serialize equally. */
export const encodeVector = (vv: VersionVector): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const origin of Object.keys(vv).sort())
    if (vv[origin]! > 0n) out[origin] = String(vv[origin]);
  return out;
};

const ORIGIN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const SEQ = /^[1-9][0-9]{0,18}$/;

export const decodeVector = (raw: unknown): VersionVector => {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TypeError('a version vector must be an object of origin → decimal string');
  }
  const out: Record<string, bigint> = {};
  for (const [origin, seq] of Object.entries(raw)) {
    if (!ORIGIN.test(origin) || typeof seq !== 'string' || !SEQ.test(seq)) {
      throw new TypeError(
        `bad version vector entry ${JSON.stringify(origin)}: ${JSON.stringify(seq)}`,
      );
    }
    out[origin] = BigInt(seq);
  }
  return out;
};
