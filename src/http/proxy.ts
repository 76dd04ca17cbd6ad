// Who is the client? The socket peer, unless that peer is a proxy we were told to trust
// (AUTHLOG_TRUSTED_PROXIES): only then are X-Forwarded-For/-Proto/-Host believed. A client that
// talks to us directly cannot choose the address it is rate-limited, audited and (later) given
// subnet evidence by. The trusted `Remote-User` header of a gateway works the same way, against
// its own list (AUTHLOG_GATEWAY_CIDRS), and always against the socket peer: a forwarded address
// never makes a request come from the gateway (DESIGN.md section 7, scenario 10).
import type { FastifyRequest } from 'fastify';
import { type Address, addressText, cidrMatcher, parseAddress, parseCidr } from '../authn/net.ts';

export type PeerTrust = {
  readonly isTrustedProxy: (address: string | undefined) => boolean;
  readonly isGateway: (address: string | undefined) => boolean;
};

declare module 'fastify' {
  interface FastifyInstance {
    peerTrust: PeerTrust;
  }
}

const matcher = (ranges: readonly string[]) =>
  cidrMatcher(
    ranges.map((r) => {
      const c = parseCidr(r);
      if (!c) throw new Error(`not a CIDR range: ${r}`);
      return c;
    }),
  );

export const peerTrust = (options: {
  trustedProxies: readonly string[];
  gatewayCidrs: readonly string[];
}): PeerTrust => ({
  isTrustedProxy: matcher(options.trustedProxies),
  isGateway: matcher(options.gatewayCidrs),
});

/**
 * The client's address as an ipaddr.js value. Fastify's `request.ip` already walks
 * X-Forwarded-For only through trusted proxies; a trusted proxy that forwards something that is
 * not an address gets the request counted as its own.
 */
export const clientAddress = (request: FastifyRequest): Address | undefined =>
  parseAddress(request.ip) ?? parseAddress(request.socket.remoteAddress);

/** The client's address as text (IPv4-mapped IPv6 unwrapped), for accounting and logs. */
export const clientIp = (request: FastifyRequest): string => {
  const forwarded = request.ip;
  const peer = request.socket.remoteAddress;
  return (
    (forwarded === undefined ? undefined : addressText(forwarded)) ??
    (peer === undefined ? undefined : addressText(peer)) ??
    'unknown'
  );
};

// An identity name as a gateway would send it: no white space, commas (duplicated headers are
// joined with ", "), control or formatting characters.
const REMOTE_USER = /^[^\s,\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]{1,256}$/u;

/**
 * The `Remote-User` header, only when the socket peer is in AUTHLOG_GATEWAY_CIDRS (off by
 * default). From anyone else it is ignored and logged: a client must not name itself.
 */
export const trustedRemoteUser = (request: FastifyRequest): string | undefined => {
  const raw = request.headers['remote-user'];
  if (raw === undefined) return undefined;
  const peer = request.socket.remoteAddress;
  if (!request.server.peerTrust.isGateway(peer)) {
    request.log.warn(
      { peer: parseAddress(peer)?.toString() ?? 'unknown' },
      'Remote-User header from a peer outside AUTHLOG_GATEWAY_CIDRS ignored',
    );
    return undefined;
  }
  if (typeof raw !== 'string' || !REMOTE_USER.test(raw)) {
    request.log.warn({ length: String(raw).length }, 'malformed Remote-User header ignored');
    return undefined;
  }
  return raw;
};
