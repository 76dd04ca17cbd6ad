// `authlog audit`: the audit trail from a node's GET /v1/audit, as a table, JSON, NDJSON or CSV.
// One page by default; --all follows the cursors to the end (NDJSON and CSV stream page by page);
// in arrival order the end is where the node's log ends now, and the last cursor resumes there.
// The node records every page read as an AuditRead event.
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { AuditEntry } from '../../projections/audit.ts';
import { FAMILIES } from '../../projections/audit-describe.ts';
import { csvHeader, csvRow, ndjsonLine } from '../accounting/formats.ts';
import { AuditPageSchema } from '../http/audit-schemas.ts';
import { connect } from './client.ts';
import { type ApiOptions, withApiOptions } from './options.ts';
import { print, printJson, table } from './output.ts';

type Format = 'table' | 'json' | 'ndjson' | 'csv';

type AuditOptions = ApiOptions & {
  subject?: string;
  actor?: string;
  type?: string;
  family?: string;
  from?: string;
  to?: string;
  origin?: string;
  ip?: string;
  order?: 'asc' | 'desc' | 'arrival';
  cursor?: string;
  limit: number;
  all?: boolean;
  max?: number;
  format?: Format;
};

const wholeNumber = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^[0-9]{1,9}$/.test(value) || n < min || n > max)
    throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
  return n;
};

const tableOf = (items: readonly AuditEntry[]): string =>
  table(
    ['AT', 'ORIGIN:SEQ', 'ACTOR', 'TYPE', 'SUBJECTS', 'IP', 'SUMMARY'],
    items.map((e) => [
      e.at,
      `${e.origin}:${e.seq}`,
      e.actor,
      e.type,
      e.subjects.join(' '),
      e.ip ?? '',
      e.summary,
    ]),
  );

export const auditCommand = (program: Command) =>
  withApiOptions(program.command('audit'))
    .description(
      'read the audit trail (needs authlog.audit.read; every read is itself recorded): who did what, when, from where',
    )
    .option('--subject <id>', 'events that touch this id (principal, role, credential, …)')
    .option('--actor <id>', 'events caused by this principal (or `system`)')
    .option('--type <types>', 'event type, or several separated by commas')
    .addOption(new Option('--family <family>', 'kind of event').choices(FAMILIES))
    .option('--from <time>', 'ISO 8601 date or date-time with zone, inclusive')
    .option('--to <time>', 'ISO 8601 date or date-time with zone, exclusive')
    .option('--origin <node>', 'events accepted by this node')
    .option('--ip <address>', 'events caused from this client address')
    .addOption(
      new Option(
        '--order <order>',
        "oldest or newest first by time, or the order this node received events (arrival: a walk that misses no late-replicated event; its cursor is this node's)",
      ).choices(['asc', 'desc', 'arrival']),
    )
    .option('--cursor <cursor>', 'continue after a page (the `next` of a previous answer)')
    .option('--limit <n>', 'rows per page (1-1000)', wholeNumber(1, 1000), 100)
    .option('--all', 'follow the cursors to the last page')
    .option('--max <n>', 'with --all: stop after this many rows', wholeNumber(1, 100_000_000))
    .addOption(
      new Option('--format <format>', 'output format (--json is --format json)').choices([
        'table',
        'json',
        'ndjson',
        'csv',
      ]),
    )
    .action(async (opts: AuditOptions) => {
      const format: Format = opts.format ?? (opts.json ? 'json' : 'table');
      const api = connect(opts);
      const base = {
        subject: opts.subject,
        actor: opts.actor,
        type: opts.type,
        family: opts.family,
        from: opts.from,
        to: opts.to,
        origin: opts.origin,
        ip: opts.ip,
        order: opts.order,
      };
      const max = opts.all ? (opts.max ?? Number.POSITIVE_INFINITY) : opts.limit;
      const collected: AuditEntry[] = [];
      let cursor = opts.cursor;
      let next: string | null = null;
      let caughtUp = false;
      let rows = 0;
      if (format === 'csv') process.stdout.write(csvHeader());
      for (;;) {
        const limit = Math.min(opts.limit, max - rows);
        const page = await api.get('/v1/audit', AuditPageSchema, {
          ...base,
          cursor,
          limit: String(limit),
        });
        rows += page.items.length;
        next = page.next;
        // Arrival order always hands out a cursor (to ask again later); it says when it is done.
        caughtUp = page.caughtUp === true;
        if (format === 'csv') process.stdout.write(page.items.map(csvRow).join(''));
        else if (format === 'ndjson') process.stdout.write(page.items.map(ndjsonLine).join(''));
        else collected.push(...page.items);
        if (!opts.all || next === null || caughtUp || rows >= max) break;
        cursor = next;
      }
      if (format === 'json')
        printJson({ items: collected, next, ...(opts.order === 'arrival' ? { caughtUp } : {}) });
      else if (format === 'table') {
        print(collected.length > 0 ? tableOf(collected) : 'no events match');
        if (next !== null)
          process.stderr.write(`${caughtUp ? 'later' : 'more'}: --cursor ${next}\n`);
      }
    });
