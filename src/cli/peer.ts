// `authlog peer add|list|remove` (the data folder's peers.json; takes effect at the node's next
// start) and `authlog verify --peer URL…` (do nodes at the same version vector agree?) or
// `authlog verify --log` (does this node's event log check? verify-log.ts).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Env } from '../boot/config.ts';
import { normalizePeerUrl, readPeersFile, writePeersFile } from '../boot/peers.ts';
import { operatorToken } from './client.ts';
import { CliError, EXIT } from './errors.ts';
import { print, printJson, safe, table } from './output.ts';
import { verifyLogCommand } from './verify-log.ts';

const dataDirOf = (opts: { dataDir?: string }) =>
  resolve(opts.dataDir ?? process.env.AUTHLOG_DATA_DIR ?? 'data');

const readToken = (file: string | undefined): string => {
  const raw =
    file === undefined || file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  const token = raw.trim();
  if (!/^[A-Za-z0-9._~+/=-]{16,512}$/.test(token))
    throw new CliError('the token file does not hold a bearer token', EXIT.usage);
  return token;
};

/**
 * The token `verify` presents: --token-file; else the operator token as every other command
 * takes it (AUTHLOG_OPERATOR_TOKEN, else the data folder's secrets.json), except that a set
 * AUTHLOG_PEER_TOKEN, the replication token the nodes' pullers use, comes before the data folder.
 */
export const verifyToken = (opts: { tokenFile?: string; dataDir?: string }, env: Env): string => {
  if (opts.tokenFile) return readToken(opts.tokenFile);
  if (!env.AUTHLOG_OPERATOR_TOKEN && env.AUTHLOG_PEER_TOKEN) return env.AUTHLOG_PEER_TOKEN;
  return operatorToken(opts, env);
};

type Remote = { node: string; vector: Record<string, string>; buffered: number; digest: string };

const remoteStatus = async (url: string, token: string): Promise<Remote> => {
  let r: Response;
  try {
    r = await fetch(new URL('/v1/replication/status', url), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    throw new CliError(`cannot reach ${url}`, EXIT.unreachable);
  }
  if (!r.ok) throw new CliError(`${url} answered ${r.status}`, EXIT.failed);
  return (await r.json()) as Remote;
};

export const peerCommand = (program: Command) => {
  const peer = program.command('peer').description('the peers this node pulls events from');
  const dataOption = (c: Command) =>
    c.option('--data-dir <dir>', 'data folder (AUTHLOG_DATA_DIR, default ./data)');

  dataOption(peer.command('add'))
    .description(
      'pull from a peer (restart the node to apply); the token comes from a file or stdin, never argv',
    )
    .argument('<url>', "the peer's base URL, e.g. https://site-b.example:8080")
    .option(
      '--token-file <file>',
      "file holding an access token valid on the peer with authlog.replicate ('-': stdin)",
    )
    .action((raw: string, opts: { dataDir?: string; tokenFile?: string }) => {
      const url = normalizePeerUrl(raw);
      if (!url)
        throw new CliError(`${safe(raw)} is not an http(s) URL without credentials`, EXIT.usage);
      const dir = dataDirOf(opts);
      const peers = readPeersFile(dir).filter((p) => p.url !== url);
      writePeersFile(dir, [...peers, { url, token: readToken(opts.tokenFile) }]);
      print(`peer ${url} added; restart the node to start pulling from it`);
    });

  dataOption(peer.command('remove'))
    .description('stop pulling from a peer (restart the node to apply)')
    .argument('<url>', "the peer's base URL")
    .action((raw: string, opts: { dataDir?: string }) => {
      const url = normalizePeerUrl(raw) ?? raw;
      const dir = dataDirOf(opts);
      const peers = readPeersFile(dir);
      if (!peers.some((p) => p.url === url))
        throw new CliError(`no peer ${safe(url)}`, EXIT.failed);
      writePeersFile(
        dir,
        peers.filter((p) => p.url !== url),
      );
      print(`peer ${url} removed`);
    });

  dataOption(peer.command('list'))
    .description('list configured peers (tokens are not shown)')
    .option('--json', 'JSON output')
    .action((opts: { dataDir?: string; json?: boolean }) => {
      const env = (process.env.AUTHLOG_PEERS ?? '')
        .split(',')
        .filter((s) => s.trim() !== '')
        .map((u) => ({ url: normalizePeerUrl(u) ?? u, source: 'AUTHLOG_PEERS' }));
      const file = readPeersFile(dataDirOf(opts)).map((p) => ({
        url: p.url,
        source: 'peers.json',
      }));
      const all = [...env, ...file];
      if (opts.json) return printJson(all);
      print(
        table(
          ['url', 'source'],
          all.map((p) => [p.url, p.source]),
        ),
      );
    });

  program
    .command('verify')
    .description(
      'compare read-model digests of nodes once they hold the same events (--peer), or check every signature and hash chain of the event log in a data folder (--log); exit 1 on divergence or a break',
    )
    .option('--peer <url...>', 'node URLs to compare (two or more)')
    .option(
      '--log',
      "check the event log of the data folder (--data-dir): every origin's chain and signatures from its first event; the node may keep running",
    )
    .option('--node-id <id>', "with --log: the data folder's node id, if it does not remember it")
    .option(
      '--token-file <file>',
      "token valid on every node (replicate privilege); default: the operator token (AUTHLOG_OPERATOR_TOKEN), else AUTHLOG_PEER_TOKEN, else the data folder's",
    )
    .option(
      '--data-dir <dir>',
      "a node's data folder, for its operator token when no token is set (AUTHLOG_DATA_DIR, default ./data)",
    )
    .option('--timeout <seconds>', 'how long to wait for equal version vectors', '30')
    .option('--json', 'JSON output')
    .action(
      async (opts: {
        peer?: string[];
        log?: boolean;
        nodeId?: string;
        tokenFile?: string;
        dataDir?: string;
        timeout: string;
        json?: boolean;
      }) => {
        if (opts.log) {
          if (opts.peer) throw new CliError('give --log or --peer, not both', EXIT.usage);
          return verifyLogCommand(opts);
        }
        const urls = (opts.peer ?? []).map((u) => normalizePeerUrl(u) ?? '');
        if (urls.length < 2 || urls.some((u) => u === ''))
          throw new CliError(
            'give two or more http(s) URLs with --peer, or --log to check the event log',
            EXIT.usage,
          );
        const token = verifyToken(opts, process.env);
        const timeout = Number(opts.timeout);
        if (!Number.isFinite(timeout) || timeout < 0 || timeout > 3600)
          throw new CliError('--timeout must be 0 to 3600 seconds', EXIT.usage);
        const deadline = Date.now() + timeout * 1000;
        for (;;) {
          const statuses = await Promise.all(urls.map((u) => remoteStatus(u, token)));
          const sameVector = new Set(statuses.map((s) => JSON.stringify(s.vector))).size === 1;
          if (sameVector || Date.now() >= deadline) {
            const agree = sameVector && new Set(statuses.map((s) => s.digest)).size === 1;
            const verdict = !sameVector ? 'NOT_CONVERGED' : agree ? 'OK' : 'DIVERGED';
            if (opts.json)
              printJson({
                verdict,
                nodes: statuses.map((s, i) => ({
                  url: urls[i],
                  node: s.node,
                  vector: s.vector,
                  digest: s.digest,
                })),
              });
            else {
              print(
                table(
                  ['node', 'url', 'digest', 'vector'],
                  statuses.map((s, i) => [
                    s.node,
                    urls[i]!,
                    s.digest.slice(0, 16),
                    JSON.stringify(s.vector),
                  ]),
                ),
              );
              print(
                verdict === 'OK'
                  ? 'OK: same events, same read model'
                  : verdict === 'DIVERGED'
                    ? 'DIVERGED: same events, different read models'
                    : 'NOT_CONVERGED: the nodes do not hold the same events yet',
              );
            }
            if (verdict !== 'OK') throw new CliError('', EXIT.failed);
            return;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      },
    );
};
