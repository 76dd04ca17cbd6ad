// `authlog audit` against a real node: the same rows as table, JSON, NDJSON and CSV, each parsed
// back; a hostile deactivation reason (a spreadsheet formula) defused in the CSV; --all follows
// the cursors; and every page read is itself in the trail.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseCsv } from '../support/csv.ts';
import {
  removeDir,
  runCli,
  type ServerProcess,
  startServerProcess,
  tempDir,
} from '../support/process.ts';

describe('authlog audit', () => {
  let server: ServerProcess;
  let dataDir: string;
  const cli = (...args: string[]) =>
    runCli(args, { AUTHLOG_DATA_DIR: dataDir, AUTHLOG_URL: server.url });
  before(async () => {
    dataDir = tempDir('cli-audit');
    server = await startServerProcess({ dataDir, nodeId: 'cli-audit' });
    const made = await cli('principal', 'create', '--id', 'eve', '--brief-name', 'Eve');
    assert.equal(made.code, 0, made.stderr);
    const off = await cli('principal', 'deactivate', 'eve', '--reason', '=cmd|" /C calc"!A0');
    assert.equal(off.code, 0, off.stderr);
  });
  /** AuditRead rows now, read over HTTP (itself one more read, recorded before it reads). */
  const auditReads = async (): Promise<number> => {
    const r = await fetch(`${server.url}/v1/audit?type=AuditRead&limit=1000`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(r.status, 200);
    return ((await r.json()) as { items: unknown[] }).items.length;
  };
  after(async () => {
    await server.stop();
    removeDir(dataDir);
  });

  it('prints the same rows as JSON, NDJSON and CSV, and a table', async () => {
    const json = await cli('audit', '--subject', 'eve', '--json');
    assert.equal(json.code, 0, json.stderr);
    const page = JSON.parse(json.stdout) as { items: { eventId: string; summary: string }[] };
    assert.equal(page.items.length, 2);
    const ids = page.items.map((e) => e.eventId);

    const nd = await cli('audit', '--subject', 'eve', '--format', 'ndjson');
    assert.equal(nd.code, 0, nd.stderr);
    const lines = nd.stdout.split('\n');
    assert.equal(lines.pop(), '', 'ends with a new line');
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).eventId),
      ids,
    );

    const csv = await cli('audit', '--subject', 'eve', '--format', 'csv');
    assert.equal(csv.code, 0, csv.stderr);
    const rows = parseCsv(csv.stdout);
    assert.equal(rows[0]![3], 'event_id');
    assert.deepEqual(
      rows.slice(1).map((r) => r[3]),
      ids,
    );
    const summary = rows[2]![9]!;
    assert.equal(summary, 'deactivated principal eve: =cmd|" /C calc"!A0');
    for (const r of rows) for (const cell of r) assert.doesNotMatch(cell, /^[=+\-@]/);
    // The reason is inside the summary; a cell that is the raw reason would be defused too.
    assert.ok(csv.stdout.includes('"deactivated principal eve: =cmd|"" /C calc""!A0"'));

    const text = await cli('audit', '--subject', 'eve', '--type', 'PrincipalDeactivated');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^AT +ORIGIN:SEQ +ACTOR +TYPE/);
    assert.match(text.stdout, /cli-audit:\d+ +system +PrincipalDeactivated +eve/);
  });

  it('follows cursors with --all and records each page read', async () => {
    const before = await auditReads();
    const all = await cli(
      'audit',
      '--all',
      '--limit',
      '2',
      '--format',
      'ndjson',
      '--family',
      'principal',
    );
    assert.equal(all.code, 0, all.stderr);
    const rows = all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(rows.length >= 3, 'more than one page');
    assert.equal(new Set(rows.map((r) => r.eventId)).size, rows.length);
    const after = await auditReads();
    // One record per page of the walk, and the second listing's own (recorded before it reads).
    assert.equal(after - before, Math.ceil(rows.length / 2) + 1);
    const bad = await cli('audit', '--limit', '0');
    assert.equal(bad.code, 2);
    // Arrival order: the same rows (one node), a walk that ends where the log ends, and a
    // cursor for later.
    const arrival = await cli(
      'audit',
      '--all',
      '--limit',
      '2',
      '--order',
      'arrival',
      '--family',
      'principal',
      '--json',
    );
    assert.equal(arrival.code, 0, arrival.stderr);
    const walked = JSON.parse(arrival.stdout) as {
      items: { eventId: string }[];
      next: string;
      caughtUp: boolean;
    };
    assert.deepEqual(
      walked.items.map((r) => r.eventId),
      rows.map((r) => r.eventId),
    );
    assert.equal(walked.caughtUp, true);
    assert.ok(walked.next);
  });

  it('rebuilds beside the live read model while the node runs (--out), to the same digest', async () => {
    const out = `${dataDir}/readmodel.next.sqlite`;
    const r = await cli('rebuild', '--out', out, '--json');
    assert.equal(r.code, 0, r.stderr);
    const rebuilt = JSON.parse(r.stdout) as { digest: string; events: number };
    const status = await fetch(`${server.url}/v1/status?digest=true`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const node = (await status.json()) as { digest: string; applied: Record<string, string> };
    // Compared at the same events: the node applied exactly what the rebuild read.
    const applied = Object.values(node.applied).reduce((n, seq) => n + Number(seq), 0);
    assert.equal(applied, rebuilt.events);
    assert.equal(node.digest, rebuilt.digest);
    const live = await cli('rebuild', '--json');
    assert.equal(live.code, 1, 'replacing the live read model needs the node stopped');
  });
});
