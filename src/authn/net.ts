// Addresses and CIDR ranges, through ipaddr.js. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`,
// what a dual-stack socket reports for an IPv4 peer) is the IPv4 address it carries, so
// `10.0.0.0/8` matches it and it shares a rate-limit bucket with `10.1.2.3`.
import ipaddr from 'ipaddr.js';

export type Address = ipaddr.IPv4 | ipaddr.IPv6;
export type Cidr = readonly [Address, number];

/** Parses an address, unwrapping IPv4-mapped IPv6; undefined when it is not one. */
export const parseAddress = (raw: string | undefined): Address | undefined => {
  if (raw === undefined || !ipaddr.isValid(raw)) return undefined;
  return ipaddr.process(raw);
};

/**
 * `f` with its answers kept for the last few thousand distinct inputs (cleared when full): the
 * same few client addresses arrive on every request, and parsing them each time shows in
 * profiles. Long inputs (not addresses anyway) are not kept.
 */
export const memoized = <T>(f: (raw: string) => T, size = 4096): ((raw: string) => T) => {
  const kept = new Map<string, T>();
  return (raw) => {
    const hit = kept.get(raw);
    if (hit !== undefined || kept.has(raw)) return hit as T;
    const value = f(raw);
    if (raw.length <= 64) {
      if (kept.size >= size) kept.clear();
      kept.set(raw, value);
    }
    return value;
  };
};

/** An address in its canonical text (IPv4-mapped IPv6 unwrapped); undefined when not one. */
export const addressText: (raw: string) => string | undefined = memoized((raw) =>
  parseAddress(raw)?.toString(),
);

/**
 * Parses `a.b.c.d/n`, `x:y::/n` or a bare address (a /32 or /128). Mapped IPv6 ranges inside
 * `::ffff:0:0/96` become the IPv4 range they denote.
 */
export const parseCidr = (raw: string): Cidr | undefined => {
  const text = raw.trim();
  if (!text.includes('/')) {
    const a = parseAddress(text);
    return a ? [a, a.kind() === 'ipv4' ? 32 : 128] : undefined;
  }
  if (!ipaddr.isValidCIDR(text)) return undefined;
  const [address, bits] = ipaddr.parseCIDR(text);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96)
    return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
  return [address, bits];
};

export type CidrList = { readonly cidrs: readonly Cidr[]; readonly invalid: readonly string[] };

/** Splits a comma-separated list; what does not parse is returned for the error message. */
export const parseCidrList = (raw: string): CidrList => {
  const cidrs: Cidr[] = [];
  const invalid: string[] = [];
  for (const part of raw.split(',')) {
    if (part.trim() === '') continue;
    const c = parseCidr(part);
    if (c) cidrs.push(c);
    else invalid.push(part.trim());
  }
  return { cidrs, invalid };
};

export const formatCidr = ([address, bits]: Cidr): string => `${address.toString()}/${bits}`;

/** A membership test over a list of ranges; an address that does not parse is in none. */
export const cidrMatcher = (cidrs: readonly Cidr[]): ((raw: string | undefined) => boolean) => {
  if (cidrs.length === 0) return () => false;
  return (raw) => {
    const a = parseAddress(raw);
    if (!a) return false;
    return cidrs.some(([range, bits]) => range.kind() === a.kind() && a.match(range, bits));
  };
};

/**
 * The key under which a client is counted: an IPv4 address as is, an IPv6 address by its /64
 * (one subscriber usually holds a whole /64, so counting single addresses would let it rotate
 * through 2^64 keys; RFC 6177, OWASP ASVS 2.2.1).
 */
export const clientKey = (raw: string | undefined): string =>
  raw === undefined ? keyOf(raw) : keyOfMemo(raw);

const keyOf = (raw: string | undefined): string => {
  const a = parseAddress(raw);
  if (!a) return `unknown:${raw ?? ''}`.slice(0, 80);
  if (a.kind() === 'ipv4') return a.toString();
  const parts = (a as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
};

const keyOfMemo = memoized(keyOf);
