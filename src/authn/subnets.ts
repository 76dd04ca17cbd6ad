// Subnet credentials: `location` evidence for a principal whose request comes from one of its
// allowed IPv4 or IPv6 ranges (ipaddr.js through src/authn/net.ts; an IPv4-mapped IPv6 client such
// as ::ffff:10.0.0.1 is the IPv4 address it carries). The address is the one the HTTP edge
// resolved: the socket peer, or X-Forwarded-For only through AUTHLOG_TRUSTED_PROXIES, so a client
// cannot choose it (OWASP ASVS 4.0 1.4.x / 12.x trust boundaries). Location alone is never a
// secret: on its own it identifies a service on a private network (scenario 6), not a person.

import { getSubnetRecord, unrevokedSubnetsOf } from '../../projections/factors.ts';
import { requireElevation } from '../authz/elevation.ts';
import { invalid } from '../errors.ts';
import { text } from '../events/normalize.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { directoryAllowed, type EvidenceProvider } from './evidence.ts';
import {
  credentialDirectory,
  credentialOwner,
  evidenceOf,
  isLive,
  validUntil as parseValidUntil,
  SUBNET_DIRECTORY,
} from './factors.ts';
import { cidrMatcher, formatCidr, parseCidr } from './net.ts';
import { requiredEvidences } from './policy.ts';

export const MAX_SUBNETS = 16;

/** CIDR ranges in ipaddr.js's canonical text (a bare address becomes a /32 or /128, a mapped
 * IPv6 range the IPv4 range it denotes), refusing what does not parse and the whole space. */
export const normalizeCidrs = (raw: readonly string[]): string[] => {
  if (raw.length === 0) throw invalid('cidrs', 'name at least one range');
  if (raw.length > MAX_SUBNETS) throw invalid('cidrs', `at most ${MAX_SUBNETS} ranges`);
  return raw.map((r) => {
    const c = parseCidr(r);
    if (!c) throw invalid('cidrs', `${JSON.stringify(r)} is not an IPv4 or IPv6 CIDR range`);
    // A /0 is "anywhere": that is no location at all.
    if (c[1] === 0) throw invalid('cidrs', `${formatCidr(c)} would match every address`);
    return formatCidr(c);
  });
};

export const allowSubnet = (input: {
  readonly credentialId: string;
  readonly principalId: string;
  readonly name: string;
  readonly cidrs: readonly string[];
  readonly directoryId?: string;
  readonly validUntil?: string;
}): Command<{ credentialId: string; cidrs: string[] }> => ({
  name: 'AllowSubnet',
  decide(state, meta) {
    const { owner, authority } = credentialOwner(state, meta, input.principalId);
    requireElevation(meta);
    const directory = credentialDirectory(state, input.directoryId ?? SUBNET_DIRECTORY, 'subnet');
    const cidrs = normalizeCidrs(input.cidrs);
    return {
      events: [
        {
          type: 'SubnetAllowed',
          data: {
            credentialId: input.credentialId,
            principalId: owner.id,
            directoryId: directory.id,
            name: text('name', input.name, 100),
            cidrs,
            validUntil: parseValidUntil(input.validUntil, meta.now),
          },
        },
      ],
      result: { credentialId: input.credentialId, cidrs },
      authority,
    };
  },
});

/** The principal's live subnet credential that contains `ip`, if any. */
export const matchingSubnet = (
  state: Reader,
  principalId: string,
  ip: string | undefined,
  now: number,
  allowed: (directoryId: string) => boolean = () => true,
): { readonly id: string; readonly directoryId: string } | undefined => {
  if (ip === undefined) return undefined;
  for (const r of unrevokedSubnetsOf(state, principalId)) {
    if (!isLive(r, now) || !allowed(r.directoryId)) continue;
    const ranges = r.cidrs.map(parseCidr).filter((c) => c !== undefined);
    if (cidrMatcher(ranges)(ip)) return { id: r.id, directoryId: r.directoryId };
  }
  return undefined;
};

/**
 * Which of `credentialIds` (the subnet credentials that proved a session's `location` evidence)
 * contain `ip` now: live (not revoked, within validity) and holding the address in one of their
 * ranges. Location is a property of each request, not of the session: a session token carried
 * off the network must not take the network with it, just as an access token's subnets are
 * checked at every use (tokens.ts). NIST SP 800-63B rev 4 section 7 binds a session to what its
 * authentication established; OWASP ASVS 5.0 V7 (session management) asks that a session's
 * context be re-verified where it matters. The credential is read again, not the ranges it had at
 * login: revoking it (or its expiry) ends the evidence at once, at every site it replicates to.
 * An unknown address (undefined) is inside nothing.
 */
export const subnetsContaining = (
  read: Reader,
  credentialIds: readonly string[],
  ip: string | undefined,
  now: number,
): ReadonlySet<string> => {
  const inside = new Set<string>();
  if (ip === undefined || credentialIds.length === 0) return inside;
  for (const id of new Set(credentialIds)) {
    const r = getSubnetRecord(read, id);
    if (!r || !isLive(r, now)) continue;
    const ranges = r.cidrs.map(parseCidr).filter((c) => c !== undefined);
    if (cidrMatcher(ranges)(ip)) inside.add(id);
  }
  return inside;
};

/**
 * `location` evidence when the client address lies in a live subnet credential; otherwise `none`
 * (an address outside is not a failed attempt: nothing was presented). When nothing else is
 * presented (no password, no code, no passkey), location counts only for a principal whose policy
 * requires it (scenario 6, a service known by where it calls from): being on the office network
 * must not log anyone in as a colleague who happens to hold a subnet credential too.
 */
export const subnetProvider: EvidenceProvider = {
  method: 'subnet',
  decide(context) {
    const hit = matchingSubnet(context.state, context.principalId, context.ip, context.now, (d) =>
      directoryAllowed(context, d),
    );
    if (!hit) return 'none';
    const { password, otp, passkey } = context.presented;
    if (
      password === undefined &&
      otp === undefined &&
      passkey === undefined &&
      !requiredEvidences(context.state, context.principalId).includes('location')
    )
      return 'none';
    const { evidences, expiresAt } = evidenceOf(
      context.state,
      hit.directoryId,
      ['location'],
      context.now,
    );
    return { evidences, method: 'subnet', credentialId: hit.id, expiresAt, events: [] };
  },
};
