// `authlog events tail`: the newest events of the log, optionally following new ones. Reads the
// store directly (read-only), so it works whether or not the node is running.
import type { Command } from 'commander';
import { loadConfig } from '../boot/config.ts';
import { openStore } from '../boot/open-store.ts';
import { hlcWallMs } from '../clock/hlc.ts';
import { fromRecorded, ORIGIN_STREAM_PREFIX } from '../events/envelope.ts';
import { type Position, positionToString, type RecordedEvent } from '../store/port.ts';
import { CliError, EXIT } from './errors.ts';
import { configOverrides, withDataOptions } from './options.ts';
import { safe } from './output.ts';

const line = (r: RecordedEvent, json: boolean): string => {
  const e = fromRecorded(r);
  if (json) {
    return JSON.stringify({
      position: positionToString(r.position),
      id: e.id,
      type: e.type,
      origin: e.origin,
      seq: String(e.seq),
      hlc: e.hlc,
      at: new Date(hlcWallMs(e.hlc)).toISOString(),
      actor: e.actor,
      data: e.data,
    });
  }
  const at = new Date(hlcWallMs(e.hlc)).toISOString();
  const subject = Object.entries(e.data).find(([k]) => k.endsWith('Id'))?.[1];
  return safe(
    `${at}  ${e.origin}:${e.seq}  ${e.type.padEnd(26)} ${String(subject ?? '')}  by ${e.actor}`,
  );
};

export const eventsCommand = (program: Command) => {
  const events = program.command('events').description('read the event log');
  withDataOptions(events.command('tail'))
    .description('print the newest events (NDJSON with --json); --follow keeps printing new ones')
    .option('-n, --lines <n>', 'how many of the newest events', '20')
    .option('-f, --follow', 'wait for new events until interrupted')
    .option('--json', 'one JSON object per line')
    .action(
      async (opts: {
        lines: string;
        follow?: boolean;
        json?: boolean;
        dataDir?: string;
        nodeId?: string;
      }) => {
        const n = Number(opts.lines);
        if (!Number.isInteger(n) || n < 0 || n > 100_000)
          throw new CliError('--lines must be a whole number from 0 to 100000', EXIT.usage);
        const store = openStore(loadConfig(process.env, configOverrides(opts)).store);
        const out = (r: RecordedEvent) => process.stdout.write(`${line(r, opts.json === true)}\n`);
        try {
          const newest = await store.readAll({
            streamPrefix: ORIGIN_STREAM_PREFIX,
            direction: 'backwards',
            maxCount: n,
          });
          newest.reverse().forEach(out);
          if (!opts.follow) return;
          const after: Position | undefined =
            newest.at(-1)?.position ?? (await store.headPosition());
          const sub = store.subscribe({
            streamPrefix: ORIGIN_STREAM_PREFIX,
            ...(after ? { after } : {}),
          });
          const stop = () => void sub.stop();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          for await (const item of sub) if (item.kind === 'event') out(item.event);
        } finally {
          await store.close();
        }
      },
    );
};
