// Which peers this node pulls from: AUTHLOG_PEERS (comma-separated URLs, all using
// AUTHLOG_PEER_TOKEN) plus the entries of `<data dir>/peers.json` that `authlog peer add` keeps
// (mode 0600: it holds tokens). A peer's token is an access token, valid on that peer, of a
// principal holding `authlog.replicate`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import type { Peer } from '../replication/puller.ts';
import { ConfigError, type Env } from './config.ts';

export const peersFile = (dataDir: string) => join(dataDir, 'peers.json');

export const normalizePeerUrl = (raw: string): string | undefined => {
  try {
    const u = new URL(raw.trim());
    if (
      (u.protocol !== 'http:' && u.protocol !== 'https:') ||
      u.username ||
      u.password ||
      u.search ||
      u.hash
    )
      return undefined;
    return u.origin + u.pathname.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
};

export const readPeersFile = (dataDir: string): Peer[] => {
  const file = peersFile(dataDir);
  if (!existsSync(file)) return [];
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(parsed))
    throw new ConfigError([`${file} must hold a JSON array of {url, token}`]);
  return parsed.map((p: unknown, i) => {
    const url =
      typeof p === 'object' && p !== null && 'url' in p && typeof p.url === 'string'
        ? normalizePeerUrl(p.url)
        : undefined;
    const token =
      typeof p === 'object' && p !== null && 'token' in p && typeof p.token === 'string'
        ? p.token
        : undefined;
    if (!url || !token)
      throw new ConfigError([`${file}: entry ${i} needs an http(s) url and a token`]);
    return { url, token };
  });
};

export const writePeersFile = (dataDir: string, peers: readonly Peer[]): void => {
  writeFileSync(peersFile(dataDir), `${JSON.stringify(peers, null, 2)}\n`, { mode: 0o600 });
};

export const loadPeers = (dataDir: string, env: Env = process.env): Peer[] => {
  const problems: string[] = [];
  const peers = new Map<string, Peer>();
  const fromEnv = (env.AUTHLOG_PEERS ?? '').split(',').filter((s) => s.trim() !== '');
  if (fromEnv.length > 0 && !env.AUTHLOG_PEER_TOKEN)
    problems.push(
      'AUTHLOG_PEERS needs AUTHLOG_PEER_TOKEN (an access token with authlog.replicate on the peers)',
    );
  for (const raw of fromEnv) {
    const url = normalizePeerUrl(raw);
    if (!url)
      problems.push(
        `AUTHLOG_PEERS: ${JSON.stringify(raw)} is not an http(s) URL without credentials`,
      );
    else if (env.AUTHLOG_PEER_TOKEN) peers.set(url, { url, token: env.AUTHLOG_PEER_TOKEN });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  for (const p of readPeersFile(dataDir)) if (!peers.has(p.url)) peers.set(p.url, p);
  return [...peers.values()];
};

const isLoopback = (hostname: string): boolean => {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIPv4(host) && host.startsWith('127.');
};

/**
 * Peers reached over plain http on a non-loopback address: their traffic carries a bearer token
 * that can read the whole event log, and the log itself (PII). Loopback stays allowed, for a
 * TLS-terminating sidecar on the same host (OWASP ASVS 9.1.1, 9.2.2).
 */
export const plainHttpPeers = (peers: readonly Peer[]): string[] =>
  peers
    .map((p) => new URL(p.url))
    .filter((u) => u.protocol === 'http:' && !isLoopback(u.hostname))
    .map((u) => u.origin);
