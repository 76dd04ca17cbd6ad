// `authlog status` and `authlog conflicts`: how far a node has got, and what replication settled.

import type { Command } from 'commander';
import { ConflictsSchema, NodeStatusSchema } from '../http/schemas.ts';
import { connect } from './client.ts';
import { type ApiOptions, withApiOptions } from './options.ts';
import { keyValues, print, printJson, table } from './output.ts';

export const statusCommand = (program: Command) => {
  withApiOptions(program.command('status'))
    .description("a node's progress: applied version vector, buffered events, read-model digest")
    .action(async (opts: ApiOptions) => {
      const s = await connect(opts).get('/v1/status', NodeStatusSchema, { digest: 'true' });
      if (opts.json) return printJson(s);
      const applied = Object.entries(s.applied).sort(([a], [b]) => a.localeCompare(b));
      print(
        keyValues([
          ['node', s.node],
          ['ready', s.ready],
          ['store', s.store],
          ...(applied.length === 0
            ? [['applied', 'nothing'] as const]
            : applied.map(
                ([origin, seq], i) => [i === 0 ? 'applied' : '', `${origin}:${seq}`] as const,
              )),
          ['buffered', s.buffered],
          [
            'writer',
            `${s.writer.batches} batches, ${s.writer.commands} commands, ${s.writer.events} events`,
          ],
          ...(s.writer.failed !== null ? [['writer failed', s.writer.failed] as const] : []),
          ['drift alarms', s.driftAlarms],
          ['digest', s.digest],
        ]),
      );
    });

  withApiOptions(program.command('conflicts'))
    .description('concurrent writes that replication settled (who won a contested name)')
    .action(async (opts: ApiOptions) => {
      const { items } = await connect(opts).get('/v1/conflicts', ConflictsSchema);
      if (opts.json) return printJson(items);
      if (items.length === 0) return print('no conflicts');
      print(
        table(
          ['AT', 'KIND', 'SCOPE', 'SUBJECT', 'WINNER', 'DETAIL'],
          items.map((c) => [c.at, c.kind, c.scope, c.subject, c.winner ?? '', c.detail ?? '']),
        ),
      );
    });
};
