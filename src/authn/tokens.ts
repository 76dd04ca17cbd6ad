// Access tokens for applications and peers: opaque, 256-bit, shown once, stored as SHA-256,
// always expiring, optionally bound to subnets, revocable (OWASP ASVS 3.5, NIST SP 800-63B 5.1.1:
// a look-up secret of at least 64 bits of entropy drawn from an approved random generator).
import { createHash, randomBytes } from 'node:crypto';
import {
  accessTokenRevocable,
  credentialRevocable,
  unrevokedTokenByHash,
} from '../../projections/credentials.ts';
import { otpRevocable, recoverySetRevocable, subnetRevocable } from '../../projections/factors.ts';
import { getPrincipal, principalUsable } from '../../projections/principals.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireDominates } from '../authz/conferral.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError, invalid } from '../errors.ts';
import { SYSTEM_ACTOR } from '../events/envelope.ts';
import { text } from '../events/normalize.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { parseAddress, parseCidr } from './net.ts';
import { MANAGE_PRINCIPALS } from './principals.ts';

export const TOKEN_PREFIX = 'alt_';
const DAY = 86_400_000;
export const DEFAULT_TOKEN_DAYS = 90;
export const MAX_TOKEN_DAYS = 730;

export const hashSecret = (secret: string): string =>
  createHash('sha256').update(secret).digest('hex');

/** A new token secret; only its hash goes into the event. */
export const newTokenSecret = (): string =>
  `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;

export type IssueTokenInput = {
  readonly credentialId: string;
  readonly principalId: string;
  readonly name: string;
  readonly secretHash: string;
  readonly days?: number;
  readonly subnets?: readonly string[];
};

export const issueAccessToken = (
  input: IssueTokenInput,
): Command<{ credentialId: string; expiresAt: string }> => ({
  name: 'IssueAccessToken',
  decide(state, meta) {
    // A principal may issue tokens for itself; for anyone else it takes the manage privilege.
    const manage =
      meta.actor !== input.principalId ? requirePrivilege(state, meta, MANAGE_PRINCIPALS) : [];
    // Issuing a credential is sensitive: an elevated session, never a token (OWASP ASVS 3.7.1),
    // and a token for someone else acts as them: the actor must hold all they hold.
    requireElevation(meta);
    const authority = [...manage, ...requireDominates(state, meta, input.principalId)];
    const p = getPrincipal(state, input.principalId);
    if (!p)
      throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${input.principalId}`, {
        field: 'principalId',
      });
    if (p.deleted || !p.active)
      throw new AppError('PRINCIPAL_DELETED', `principal ${p.id} is deleted or inactive`);
    const name = text('name', input.name, 100);
    const days = input.days ?? DEFAULT_TOKEN_DAYS;
    if (!Number.isInteger(days) || days < 1 || days > MAX_TOKEN_DAYS)
      throw invalid('days', `must be 1 to ${MAX_TOKEN_DAYS}`);
    const subnets = (input.subnets ?? []).map((raw) => {
      if (!parseCidr(raw))
        throw invalid('subnets', `${JSON.stringify(raw)} is not an IPv4 or IPv6 CIDR`);
      return raw.trim();
    });
    if (subnets.length > 16) throw invalid('subnets', 'at most 16 ranges');
    if (!/^[0-9a-f]{64}$/.test(input.secretHash))
      throw invalid('secretHash', 'must be a SHA-256 hex digest');
    const expiresAt = new Date(meta.now + days * DAY).toISOString();
    return {
      events: [
        {
          type: 'AccessTokenIssued',
          data: {
            credentialId: input.credentialId,
            principalId: p.id,
            name,
            secretHash: input.secretHash,
            expiresAt,
            subnets,
          },
        },
      ],
      result: { credentialId: input.credentialId, expiresAt },
      authority,
    };
  },
});

/** The credential of any kind that `CredentialRevoked` would end (each kind keeps its own). */
const revocable = (state: Reader, id: string) =>
  accessTokenRevocable(state, id) ??
  otpRevocable(state, id) ??
  subnetRevocable(state, id) ??
  recoverySetRevocable(state, id) ??
  credentialRevocable(state, id);

export const revokeCredential = (input: {
  credentialId: string;
  reason?: string;
}): Command<{ revoked: boolean }> => ({
  name: 'RevokeCredential',
  decide(state, meta) {
    const row = revocable(state, input.credentialId);
    if (!row) throw new AppError('CREDENTIAL_NOT_FOUND', `no credential ${input.credentialId}`);
    const manage =
      meta.actor !== row.principalId && meta.actor !== SYSTEM_ACTOR
        ? requirePrivilege(state, meta, MANAGE_PRINCIPALS)
        : [];
    // A credential change: an elevated session, never a token (OWASP ASVS 3.7.1).
    requireElevation(meta);
    const authority = [...manage, ...requireDominates(state, meta, row.principalId)];
    if (row.revoked) return { events: [], result: { revoked: true } };
    const reason = text('reason', input.reason ?? '', 200, { optional: true });
    return {
      events: [{ type: 'CredentialRevoked', data: { credentialId: input.credentialId, reason } }],
      result: { revoked: true },
      authority,
    };
  },
});

export type TokenHolder = { readonly principalId: string; readonly credentialId: string };

/** Who a bearer token authenticates, or undefined: unknown, revoked, expired, out of its subnets,
 * or its principal inactive. Looked up by hash, so the comparison leaks nothing about the secret. */
export const authenticateToken = (
  read: Reader,
  token: string,
  clientIp: string | undefined,
  now: number,
): TokenHolder | undefined => {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const row = unrevokedTokenByHash(read, hashSecret(token));
  if (!row || Date.parse(row.expiresAt) <= now || !principalUsable(read, row.principalId))
    return undefined;
  const { subnets } = row;
  if (subnets.length > 0) {
    const ip = parseAddress(clientIp);
    const inside =
      ip !== undefined &&
      subnets.some((s) => {
        const c = parseCidr(s);
        return c !== undefined && c[0].kind() === ip.kind() && ip.match(c[0], c[1]);
      });
    if (!inside) return undefined;
  }
  return { principalId: row.principalId, credentialId: row.id };
};
