// `authlog verify --log`: checks every origin's hash chain and signatures in a node's event log,
// from its first event (src/node/chain.ts), for auditors: nothing altered, nothing removed. It
// only reads the log, so the node may keep running; an auditor can run it on a copy of the data
// folder with the cluster file (or AUTHLOG_CLUSTER_FOUNDERS). Exit 0 only when everything checks.
import { SingleBar } from 'cli-progress';
import { foundersOf } from '../boot/cluster.ts';
import { loadConfig } from '../boot/config.ts';
import { openStore } from '../boot/open-store.ts';
import { describeBreak, verifyLog } from '../node/chain.ts';
import { CliError, EXIT } from './errors.ts';
import { configOverrides } from './options.ts';
import { print, printJson, table } from './output.ts';

export const verifyLogCommand = async (opts: {
  dataDir?: string;
  nodeId?: string;
  json?: boolean;
}): Promise<void> => {
  const config = loadConfig(process.env, configOverrides(opts));
  const store = openStore(config.store);
  const showBar = !opts.json && process.stderr.isTTY;
  const bar = new SingleBar({
    format: 'verify [{bar}] {percentage}% | {events} events | ETA {eta_formatted}',
    stream: process.stderr,
    hideCursor: true,
  });
  if (showBar) bar.start(100, 0, { events: 0 });
  let verdict: Awaited<ReturnType<typeof verifyLog>>;
  try {
    verdict = await verifyLog({
      store,
      founders: foundersOf(config.cluster.founders),
      onProgress: (p) => {
        if (showBar) bar.update(Math.floor(p.fraction * 100), { events: p.events });
      },
    });
  } finally {
    if (showBar) bar.stop();
    await store.close();
  }
  const ok = verdict.breaks.length === 0;
  const perSecond = verdict.ms > 0 ? Math.round((verdict.events / verdict.ms) * 1000) : 0;
  if (opts.json)
    printJson({
      verdict: ok ? 'OK' : 'BROKEN',
      events: verdict.events,
      ms: Math.round(verdict.ms),
      eventsPerSec: perSecond,
      origins: verdict.heads,
      breaks: verdict.breaks,
    });
  else {
    print(
      table(
        ['origin', 'events', 'last seq', 'head hash', 'chain'],
        verdict.heads.map((h) => [
          h.origin,
          String(h.events),
          h.seq,
          h.hash?.slice(0, 16) ?? '-',
          h.broken ? `BROKEN at seq ${h.broken.seq}: ${h.broken.reason}` : 'ok',
        ]),
      ),
    );
    for (const b of verdict.breaks) print(`break: ${describeBreak(b)}`);
    print(
      `${verdict.events} events of ${verdict.heads.length} origins read in ${(verdict.ms / 1000).toFixed(1)} s (${perSecond}/s)`,
    );
    print(
      ok
        ? 'OK: every event is signed by its origin and chained to the one before; nothing altered, nothing removed'
        : `BROKEN: ${verdict.breaks.length} origin chain(s) do not check; each origin's first break is named above, its later events are not checked`,
    );
  }
  if (!ok) throw new CliError('', EXIT.failed);
};
