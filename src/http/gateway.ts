// Trusted gateway (DESIGN.md section 7, scenario 10): a reverse proxy that authenticated the user
// itself (Kerberos, a corporate SSO, client certificates) passes the identity in `Remote-User`.
// The header is believed only when the socket peer (never a forwarded address) is in
// AUTHLOG_GATEWAY_CIDRS, off by default (trustedRemoteUser in proxy.ts; from anyone else it is
// ignored and a warning is logged). It then names an identity in AUTHLOG_GATEWAY_DIRECTORY and
// gives that request `trust` evidence, nothing more: no session, no elevation (OWASP ASVS 1.4.2
// / 4.0 V9 trust boundaries: never trust identity headers from arbitrary clients).
import type { FastifyRequest } from 'fastify';
import { identityHolding } from '../../projections/identities.ts';
import { getPrincipal } from '../../projections/principals.ts';
import { GATEWAY_DIRECTORY } from '../authn/factors.ts';
import { requiredEvidences } from '../authn/policy.ts';
import { identityName } from '../events/normalize.ts';
import type { Reader } from '../readmodel/projection.ts';
import { trustedRemoteUser } from './proxy.ts';

export type GatewayUser = {
  readonly principalId: string;
  /** What the request is recorded as coming through (the events' `via`). */
  readonly via: string;
  readonly evidences: ReadonlySet<string>;
  /** False when the principal's policy requires more than `trust` (MFA, location): then the
   * request may do nothing (a gateway request cannot add evidence: it has no session). */
  readonly complete: boolean;
};

/** The evidence a trusted gateway gives, and the credential it is recorded under. */
export const GATEWAY_EVIDENCES: ReadonlySet<string> = new Set(['trust']);
export const GATEWAY_VIA = `gateway:${GATEWAY_DIRECTORY}`;

/** The active principal whose identity in `directoryId` is `name`; undefined otherwise. */
export const principalNamed = (
  read: Reader,
  directoryId: string,
  name: string,
): string | undefined => {
  let key: string;
  try {
    key = identityName('Remote-User', name).key;
  } catch {
    return undefined;
  }
  const identity = identityHolding(read, directoryId, key);
  const principal = identity && getPrincipal(read, identity.principalId);
  return principal?.active && !principal.deleted ? principal.id : undefined;
};

/**
 * The request's gateway-asserted user: `undefined` when there is no Remote-User header or it is
 * not believed (logged by trustedRemoteUser); `invalid` when a trusted gateway names nobody
 * usable (unknown, conflicting, removed or inactive), which is logged without the name.
 */
export const gatewayUser = (
  request: FastifyRequest,
  directoryId: string,
): GatewayUser | 'invalid' | undefined => {
  const name = trustedRemoteUser(request);
  if (name === undefined) return undefined;
  const principalId = principalNamed(request.server.node.read, directoryId, name);
  if (principalId === undefined) {
    request.log.warn(
      { directory: directoryId, length: name.length },
      'Remote-User from a trusted gateway names no active identity',
    );
    return 'invalid';
  }
  const complete = requiredEvidences(request.server.node.read, principalId).every((e) =>
    GATEWAY_EVIDENCES.has(e),
  );
  return { principalId, via: GATEWAY_VIA, evidences: GATEWAY_EVIDENCES, complete };
};
