// `authlog replay --until <time|origin:seq>`: the read model as it was at a point of the past,
// built into a separate file (the live read model is untouched, and the node may keep running:
// the log is only read), then optionally asked who held a role or privilege, or what a principal
// could do, at that point. What "as of" means: src/accounting/replay.ts and docs/accounting.md.
import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { projections } from '../../projections/index.ts';
import { capabilities, whoHolds } from '../accounting/as-of.ts';
import { describeUntil, parseUntil, ReplayError, replayUntil } from '../accounting/replay.ts';
import { foundersOf } from '../boot/cluster.ts';
import { loadConfig } from '../boot/config.ts';
import { openStore } from '../boot/open-store.ts';
import { openReadModel } from '../readmodel/database.ts';
import { createReader } from '../readmodel/reader.ts';
import { CliError, EXIT } from './errors.ts';
import { configOverrides, withDataOptions } from './options.ts';
import { print, printJson, safe } from './output.ts';

type ReplayOptions = {
  until: string;
  out?: string;
  whoHolds?: string;
  principal?: string;
  json?: boolean;
  batch: string;
  dataDir?: string;
  nodeId?: string;
};

export const replayCommand = (program: Command) =>
  withDataOptions(program.command('replay'))
    .description(
      'build the read model as of a time or an origin:seq into a separate file, and ask it who held a role or privilege, or what a principal could do',
    )
    .requiredOption(
      '--until <point>',
      'ISO 8601 time with zone (events at or before it, from every origin), or origin:seq (what that node had applied when it wrote that event)',
    )
    .option('--out <file>', 'the replayed read model (default: <data dir>/replay.sqlite)')
    .option('--who-holds <what>', 'role:<id or name> or privilege:<name>')
    .option('--principal <id>', 'what this principal could do')
    .option('--json', 'print the result as JSON')
    .option('--batch <n>', 'events per transaction', '5000')
    .action(async (opts: ReplayOptions) => {
      let until: ReturnType<typeof parseUntil>;
      try {
        until = parseUntil(opts.until);
      } catch (err) {
        throw new CliError((err as Error).message, EXIT.usage);
      }
      if (
        opts.whoHolds !== undefined &&
        !/^(role|privilege):[A-Za-z0-9][A-Za-z0-9._: -]{0,99}$/.test(opts.whoHolds)
      )
        throw new CliError('--who-holds takes role:<id or name> or privilege:<name>', EXIT.usage);
      const batchSize = Number(opts.batch);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1_000_000)
        throw new CliError('--batch must be a whole number from 1 to 1000000', EXIT.usage);
      const config = loadConfig(process.env, configOverrides(opts));
      const out = resolve(opts.out ?? `${config.dataDir}/replay.sqlite`);
      if (out === resolve(config.readModelPath))
        throw new CliError('--out must not be the live read model', EXIT.usage);

      const store = openStore(config.store);
      const showBar = !opts.json && process.stderr.isTTY;
      const bar = new SingleBar({
        format: 'replay [{bar}] {percentage}% | {events} events | ETA {eta_formatted}',
        stream: process.stderr,
        hideCursor: true,
      });
      if (showBar) bar.start(100, 0, { events: 0 });
      let result: Awaited<ReturnType<typeof replayUntil>>;
      try {
        result = await replayUntil({
          store,
          path: out,
          until,
          projections,
          founders: foundersOf(config.cluster.founders),
          batchSize,
          onProgress: (p) => {
            if (showBar) bar.update(Math.floor(p.fraction * 100), { events: p.events });
          },
        });
      } catch (err) {
        if (err instanceof ReplayError) throw new CliError(err.message, EXIT.failed);
        throw err;
      } finally {
        if (showBar) bar.stop();
        await store.close();
      }

      const rm = openReadModel(out, projections);
      try {
        const read = createReader(rm.reader);
        const answer = {
          asOf: describeUntil(until),
          file: out,
          events: result.events,
          digest: result.digest,
          ...(opts.whoHolds !== undefined ? { whoHolds: whoHolds(read, opts.whoHolds) } : {}),
          ...(opts.principal !== undefined
            ? { principal: capabilities(read, opts.principal) }
            : {}),
        };
        if (opts.json) {
          printJson(answer);
          return;
        }
        print(`as of ${answer.asOf}: ${answer.events} events replayed into ${safe(out)}`);
        const w = answer.whoHolds;
        if (w?.kind === 'role') {
          if (!w.exists) print(`role ${safe(w.role)} did not exist`);
          else if (w.deleted) print(`role ${safe(w.role)} was deleted`);
          else {
            print(
              `members of role ${safe(w.role)}${w.everyone ? ' (everyone, via anonymous)' : ''}:`,
            );
            for (const m of w.members)
              print(`  ${safe(m.principalId)}${m.active ? '' : ' (inactive or deleted)'}`);
            if (w.members.length === 0) print('  none');
          }
        } else if (w?.kind === 'privilege') {
          print(
            `holders of privilege ${safe(w.privilege)}${w.everyone ? ' (everyone, via anonymous)' : ''}:`,
          );
          for (const h of w.holders)
            print(
              `  ${safe(h.principalId)}  ${safe(h.reason)}${h.needsEvidence ? ` [needs ${h.needsEvidence.join(', ')}]` : ''}`,
            );
          if (w.holders.length === 0) print('  none');
        }
        const c = answer.principal;
        if (c) {
          if (!c.exists) print(`principal ${safe(c.principalId)} did not exist`);
          else {
            print(
              `principal ${safe(c.principalId)}${c.active ? '' : ' (inactive or deleted: could do nothing)'}; roles: ${c.roles.map(safe).join(', ') || 'none'}`,
            );
            for (const p of c.privileges)
              print(
                `  privilege ${safe(p.privilege)}  ${safe(p.reason)}${p.needsEvidence ? ` [needs ${p.needsEvidence.join(', ')}]` : ''}`,
              );
            for (const p of c.permissions)
              print(
                `  ${safe(p.action)} on ${p.all ? 'every ' : ''}${safe(p.resourceType)}${p.all ? '' : ` ${p.objects.map(safe).join(', ')}`}${p.needsEvidence ? ` [needs ${p.needsEvidence.join(', ')}]` : ''}`,
              );
            if (c.privileges.length === 0 && c.permissions.length === 0) print('  nothing');
          }
        }
      } finally {
        rm.close();
      }
    });
