// `authlog rebuild`: replays the whole log into a new read model and swaps it in. Offline: it
// takes the data folder's lock, so it refuses while the node runs. On a running site, rebuild
// without downtime by starting a second node process on a copy of the store … see README.
import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { projections } from '../../projections/index.ts';
import { foundersOf } from '../boot/cluster.ts';
import { loadConfig } from '../boot/config.ts';
import { openStore } from '../boot/open-store.ts';
import { LogBrokenError } from '../node/chain.ts';
import { acquireLock } from '../node/lock.ts';
import { rebuildReadModel } from '../node/rebuild.ts';
import { CliError, EXIT } from './errors.ts';
import { configOverrides, withDataOptions } from './options.ts';

export const rebuildCommand = (program: Command) =>
  withDataOptions(program.command('rebuild'))
    .description(
      'drop the read model and replay the whole event log into a new one (node must be stopped)',
    )
    .option('--json', 'print the result as JSON')
    .option('--batch <n>', 'events per transaction', '5000')
    .option(
      '--out <file>',
      'build beside: write the new read model to this file and leave the live one alone (the node may keep running; swap it in while stopped, see docs/accounting.md)',
    )
    .action(
      async (opts: {
        json?: boolean;
        batch: string;
        out?: string;
        dataDir?: string;
        nodeId?: string;
      }) => {
        // The lock is taken before anything is read: a running node refuses the rebuild clearly.
        const batchSize = Number(opts.batch);
        if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1_000_000) {
          throw new CliError('--batch must be a whole number from 1 to 1000000', EXIT.usage);
        }
        const config = loadConfig(process.env, configOverrides(opts));
        const target = opts.out === undefined ? config.readModelPath : resolve(opts.out);
        if (opts.out !== undefined && target === resolve(config.readModelPath))
          throw new CliError(
            '--out must not be the live read model (omit --out to replace it)',
            EXIT.usage,
          );
        let release: () => void;
        try {
          // Building beside only reads the log: no lock, the node may run.
          release = opts.out === undefined ? acquireLock(config.dataDir) : () => {};
        } catch (err) {
          throw new CliError(
            `${(err as Error).message} (rebuild needs the node stopped)`,
            EXIT.failed,
          );
        }
        const store = openStore(config.store);
        const bar = new SingleBar({
          format: 'rebuild [{bar}] {percentage}% | {events} events | ETA {eta_formatted}',
          stream: process.stderr,
          hideCursor: true,
          noTTYOutput: false,
        });
        const showBar = !opts.json && process.stderr.isTTY;
        if (showBar) bar.start(100, 0, { events: 0 });
        try {
          const result = await rebuildReadModel({
            store,
            path: target,
            projections,
            founders: foundersOf(config.cluster.founders),
            batchSize,
            onProgress: (p) => {
              if (showBar) bar.update(Math.floor(p.fraction * 100), { events: p.events });
            },
          });
          if (showBar) bar.stop();
          const rate =
            result.ms > 0 ? Math.round((result.events / result.ms) * 1000) : result.events;
          if (opts.json)
            process.stdout.write(
              `${JSON.stringify({ ...result, ms: Math.round(result.ms), eventsPerSec: rate })}\n`,
            );
          else {
            process.stdout.write(
              `rebuilt ${target}: ${result.events} events in ${(result.ms / 1000).toFixed(1)} s (${rate}/s)\n`,
            );
            process.stdout.write(
              `signatures and chains of every event checked: ${(result.verifyMs / 1000).toFixed(1)} s of it\n`,
            );
            process.stdout.write(`digest ${result.digest}\n`);
            if (result.buffered > 0)
              process.stdout.write(
                `warning: ${result.buffered} events wait for missing dependencies\n`,
              );
          }
        } catch (err) {
          if (err instanceof LogBrokenError)
            throw new CliError(
              `${err.message}\nnothing was replaced. Run "authlog verify --log" for every origin's chain, then restore the data folder from a backup or re-seed this node from its peers (docs/operations.md, Tamper evidence)`,
              EXIT.failed,
            );
          throw err;
        } finally {
          if (showBar) bar.stop();
          await store.close();
          release();
        }
      },
    );
