// Settings of the HTTP edge (proxies, gateways, rate limits, origins, CSRF key), read from the
// environment by loadConfig() and validated there with the other settings, every problem named.
import { formatCidr, parseCidrList } from '../authn/net.ts';

export type RateLimit = { readonly max: number; readonly windowMs: number };

export type EdgeConfig = {
  /** Strict-Transport-Security on every answer: outside development mode. */
  readonly hsts: boolean;
  /** Peers whose X-Forwarded-For / -Proto / -Host are believed (AUTHLOG_TRUSTED_PROXIES). */
  readonly trustedProxies: readonly string[];
  /** Peers whose Remote-User header is believed (AUTHLOG_GATEWAY_CIDRS); empty: never. */
  readonly gatewayCidrs: readonly string[];
  /** The identity directory a gateway's Remote-User names (AUTHLOG_GATEWAY_DIRECTORY). */
  readonly gatewayDirectory: string;
  /** Every route, per client address (IPv6 by /64). */
  readonly rateLimit: RateLimit;
  /** Authentication routes, per client address; stricter. */
  readonly authRateLimit: RateLimit;
  /** Replication routes, per peer principal holding authlog.replicate; higher. */
  readonly replicationRateLimit: RateLimit;
  /** Origins besides the node's own from which cookie-authenticated writes are accepted. */
  readonly allowedOrigins: readonly string[];
  /** Base64 key for CSRF tokens (AUTHLOG_CSRF_KEY); when absent, derived from the operator token. */
  readonly csrfKey?: string;
};

export const defaultEdgeConfig: EdgeConfig = {
  hsts: false,
  trustedProxies: [],
  gatewayCidrs: [],
  gatewayDirectory: 'internal',
  rateLimit: { max: 6000, windowMs: 60_000 },
  authRateLimit: { max: 20, windowMs: 60_000 },
  // A peer long-polls; catching up it asks for page after page (5,000 events each).
  replicationRateLimit: { max: 60_000, windowMs: 60_000 },
  allowedOrigins: [],
};

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

const parseRateLimit = (name: string, raw: string, problems: string[]): RateLimit | undefined => {
  const m = /^(\d{1,7})\/(\d{1,4})(s|m|h)$/.exec(raw.trim());
  const max = Number(m?.[1]);
  const windowMs = Number(m?.[2]) * (UNITS[m?.[3] ?? ''] ?? 0);
  if (!m || max < 1 || windowMs < 1000) {
    problems.push(
      `${name} must be requests/window like 600/1m or 20/30s (window in s, m or h), not ${JSON.stringify(raw)}`,
    );
    return undefined;
  }
  return { max, windowMs };
};

const parseRanges = (name: string, raw: string, problems: string[]): string[] => {
  const { cidrs, invalid } = parseCidrList(raw);
  for (const bad of invalid)
    problems.push(
      `${name}: ${JSON.stringify(bad)} is not an IPv4 or IPv6 address or CIDR range (e.g. 10.0.0.0/8, 2001:db8::/32)`,
    );
  // Trusting every address would let any client choose the address it is counted and audited by.
  for (const c of cidrs)
    if (c[1] === 0) problems.push(`${name}: ${formatCidr(c)} would trust every address`);
  return cidrs.map(formatCidr);
};

const parseDirectoryId = (name: string, raw: string | undefined, problems: string[]): string => {
  if (raw === undefined) return defaultEdgeConfig.gatewayDirectory;
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(raw)) {
    problems.push(`${name} must be an identity directory id, not ${JSON.stringify(raw)}`);
    return defaultEdgeConfig.gatewayDirectory;
  }
  return raw;
};

const parseOrigins = (raw: string, problems: string[]): string[] => {
  const origins: string[] = [];
  for (const part of raw.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    let url: URL | undefined;
    try {
      url = new URL(part);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.origin !== part.replace(/\/$/, '')) {
      problems.push(
        `AUTHLOG_ALLOWED_ORIGINS: ${JSON.stringify(part)} is not an origin like https://id.example.org`,
      );
    } else origins.push(url.origin);
  }
  return origins;
};

/** Reads the HTTP-edge settings; problems are appended, defaults fill what is unset. */
export const parseEdgeConfig = (
  get: (name: string) => string | undefined,
  mode: 'development' | 'production',
  problems: string[],
): EdgeConfig => {
  const rate = get('AUTHLOG_RATE_LIMIT');
  const authRate = get('AUTHLOG_AUTH_RATE_LIMIT');
  const csrfKey = get('AUTHLOG_CSRF_KEY');
  if (csrfKey !== undefined && Buffer.from(csrfKey, 'base64').length < 32)
    problems.push('AUTHLOG_CSRF_KEY must be base64 of at least 32 random bytes');
  const rateLimit =
    (rate === undefined ? undefined : parseRateLimit('AUTHLOG_RATE_LIMIT', rate, problems)) ??
    defaultEdgeConfig.rateLimit;
  const authRateLimit =
    (authRate === undefined
      ? undefined
      : parseRateLimit('AUTHLOG_AUTH_RATE_LIMIT', authRate, problems)) ??
    defaultEdgeConfig.authRateLimit;
  const replicationRate = get('AUTHLOG_REPLICATION_RATE_LIMIT');
  const replicationRateLimit =
    (replicationRate === undefined
      ? undefined
      : parseRateLimit('AUTHLOG_REPLICATION_RATE_LIMIT', replicationRate, problems)) ??
    defaultEdgeConfig.replicationRateLimit;
  return {
    hsts: mode !== 'development',
    trustedProxies: parseRanges(
      'AUTHLOG_TRUSTED_PROXIES',
      get('AUTHLOG_TRUSTED_PROXIES') ?? '',
      problems,
    ),
    gatewayCidrs: parseRanges(
      'AUTHLOG_GATEWAY_CIDRS',
      get('AUTHLOG_GATEWAY_CIDRS') ?? '',
      problems,
    ),
    gatewayDirectory: parseDirectoryId(
      'AUTHLOG_GATEWAY_DIRECTORY',
      get('AUTHLOG_GATEWAY_DIRECTORY'),
      problems,
    ),
    rateLimit,
    authRateLimit,
    replicationRateLimit,
    allowedOrigins: parseOrigins(get('AUTHLOG_ALLOWED_ORIGINS') ?? '', problems),
    ...(csrfKey !== undefined ? { csrfKey } : {}),
  };
};
