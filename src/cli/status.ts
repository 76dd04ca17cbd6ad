// `authlog status` and `authlog conflicts`: how far a node has got, and what replication settled.
import { Type } from '@sinclair/typebox';
import type { Command } from 'commander';
import { connect } from './client.ts';
import { type ApiOptions, withApiOptions } from './options.ts';
import { keyValues, print, printJson, table } from './output.ts';

const Status = Type.Object({
  node: Type.String(),
  ready: Type.Boolean(),
  applied: Type.Record(Type.String(), Type.String()),
  buffered: Type.Integer(),
  writer: Type.Object({
    failed: Type.Union([Type.String(), Type.Null()]),
    batches: Type.Integer(),
    commands: Type.Integer(),
    events: Type.Integer(),
  }),
  driftAlarms: Type.Integer(),
  store: Type.String(),
  digest: Type.Optional(Type.String()),
});

const Conflicts = Type.Object({
  items: Type.Array(
    Type.Object({
      kind: Type.String(),
      scope: Type.String(),
      subject: Type.String(),
      winner: Type.Union([Type.String(), Type.Null()]),
      detail: Type.Union([Type.String(), Type.Null()]),
      at: Type.String(),
    }),
  ),
});

export const statusCommand = (program: Command) => {
  withApiOptions(program.command('status'))
    .description("a node's progress: applied version vector, buffered events, read-model digest")
    .action(async (opts: ApiOptions) => {
      const s = await connect(opts).get('/v1/status', Status, { digest: 'true' });
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
      const { items } = await connect(opts).get('/v1/conflicts', Conflicts);
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
