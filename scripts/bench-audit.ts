// npm run bench:audit — the audit trail over a large log, in one run:
//   1. a log of BENCH_AUDIT_EVENTS events (default 1,000,000) from the shared generator
//   2. a full rebuild with every projection, and the same rebuild without the audit projection
//      (the baseline: what the audit rows cost a rebuild)
//   3. a replay until the middle of the log (point-in-time), next to the full rebuild's rate
//   4. query latency for one page of 100, per filter, BENCH_AUDIT_QUERIES (default 300) queries
//      each at random values and random positions (half of them continue from a cursor)
// Target: p99 under 20 ms for a page of 100. Scratch files go to BENCH_DIR or os.tmpdir() and are
// removed. The last line of output is one JSON object with every figure.
import { statSync } from 'node:fs';
import { type AuditOrder, auditEntries, auditRowCounts } from '../projections/audit.ts';
import type { Family } from '../projections/audit-describe.ts';
import { projections, projectionsWithoutAudit } from '../projections/index.ts';
import { type AuditFilter, encodeCursor, queryAudit } from '../src/accounting/queries.ts';
import { replayUntil } from '../src/accounting/replay.ts';
import { hlcWallMs } from '../src/clock/hlc.ts';
import { rebuildReadModel } from '../src/node/rebuild.ts';
import { openReadModel } from '../src/readmodel/database.ts';
import type { Reader } from '../src/readmodel/projection.ts';
import { createReader } from '../src/readmodel/reader.ts';
import { generateLog, LOG_FOUNDERS } from './bench/generate.ts';
import { openLog } from './bench/ours.ts';
import { envInt, note, perSecond, progress, round, scratchDir } from './bench/util.ts';

const EVENTS = envInt('BENCH_AUDIT_EVENTS', 1_000_000);
const QUERIES = envInt('BENCH_AUDIT_QUERIES', 300);
const PAGE = 100;
const TARGET_P99_MS = 20;

// Deterministic choices of filter values and positions (mulberry32).
const prng = (seed: number) => {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

type Sample = {
  hlc: string;
  eventId: string;
  actor: string;
  type: string;
  family: string;
  origin: string;
  ip: string | null;
  subject: string | undefined;
};

const rebuild = async (
  name: string,
  store: ReturnType<typeof openLog>,
  path: string,
  which = projections,
) => {
  const bar = progress(name, EVENTS);
  const r = await rebuildReadModel({
    store,
    path,
    projections: which,
    founders: LOG_FOUNDERS,
    onProgress: (p) => bar.update(p.events),
  });
  bar.stop();
  return r;
};

const main = async () => {
  const scratch = scratchDir();
  try {
    const store = openLog(scratch.file('log.db'));
    const gen = progress(`generating ${EVENTS} events`, EVENTS);
    await generateLog({ store, events: EVENTS, onProgress: gen.update });
    gen.stop();

    // 2. Full rebuild with and without the audit projection (same log, same machine, same run).
    // BENCH_AUDIT_BASELINE=0 skips the baseline (a quicker run for the query figures).
    const withoutAudit =
      process.env.BENCH_AUDIT_BASELINE === '0'
        ? undefined
        : await rebuild(
            'rebuild without audit',
            store,
            scratch.file('rm-baseline.sqlite'),
            projectionsWithoutAudit,
          );
    const full = await rebuild('rebuild (all projections)', store, scratch.file('rm.sqlite'));

    // 3. Replay until the middle of the log's time span.
    const rm = openReadModel(scratch.file('rm.sqlite'), projections);
    const read: Reader = createReader(rm.reader);
    const [first] = auditEntries(read, { order: 'asc', limit: 1 });
    const [last] = auditEntries(read, { order: 'desc', limit: 1 });
    if (!first || !last) throw new Error('no audit rows');
    const startMs = hlcWallMs(first.hlc);
    const endMs = hlcWallMs(last.hlc);
    const middleMs = Math.floor((startMs + endMs) / 2);
    const replayBar = progress('replay until the middle', EVENTS);
    const replay = await replayUntil({
      store,
      path: scratch.file('replay.sqlite'),
      until: { kind: 'time', ms: middleMs },
      projections,
      founders: LOG_FOUNDERS,
      onProgress: (p) => replayBar.update(p.events),
    });
    replayBar.stop();

    // 4. Query latency per filter.
    const random = prng(7);
    const { events: auditRows, subjectRows } = auditRowCounts(read);
    const sample = (): Sample => {
      const ms = startMs + Math.floor(random() * (endMs - startMs));
      const floor = ms.toString(16).padStart(12, '0');
      const [r] = auditEntries(read, { fromHlc: floor, order: 'asc', limit: 1 });
      if (!r) throw new Error('no audit row to sample');
      return {
        hlc: r.hlc,
        eventId: r.eventId,
        actor: r.actor,
        type: r.type,
        family: r.family,
        origin: r.origin,
        ip: r.ip,
        subject: r.subjects[Math.floor(random() * r.subjects.length)],
      };
    };
    const HOUR = 3_600_000;
    const filters: Record<string, (s: Sample) => AuditFilter & { order?: AuditOrder }> = {
      none: () => ({}),
      subject: (s) => (s.subject !== undefined ? { subject: s.subject } : { subject: s.actor }),
      actor: (s) => ({ actor: s.actor }),
      type: (s) => ({ types: [s.type] }),
      family: (s) => ({ family: s.family as Family }),
      timeRange: (s) => {
        const from = hlcWallMs(s.hlc);
        return { from, to: from + HOUR };
      },
      origin: (s) => ({ origin: s.origin }),
      ip: (s) => (s.ip !== null ? { ip: s.ip } : { actor: s.actor }),
      twoTypes: (s) => ({
        types: [s.type, s.type === 'IdentityRemoved' ? 'PrincipalDeleted' : 'IdentityRemoved'],
      }),
      actorAndType: (s) => ({ actor: s.actor, types: [s.type] }),
      newestFirstByActor: (s) => ({ actor: s.actor, order: 'desc' }),
    };
    const latency: Record<
      string,
      { p50Ms: number; p99Ms: number; maxMs: number; avgRows: number }
    > = {};
    for (const [name, make] of Object.entries(filters)) {
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < QUERIES; i++) {
        const s = sample();
        const q = make(s);
        // Half the queries start at the beginning, half continue from a cursor somewhere inside.
        const cursor =
          i % 2 === 1
            ? encodeCursor({ order: q.order ?? 'asc', hlc: s.hlc, eventId: s.eventId })
            : undefined;
        const t0 = performance.now();
        const page = queryAudit(read, { ...q, limit: PAGE, ...(cursor ? { cursor } : {}) });
        times.push(performance.now() - t0);
        rows += page.items.length;
      }
      times.sort((a, b) => a - b);
      latency[name] = {
        p50Ms: round(percentile(times, 50), 3),
        p99Ms: round(percentile(times, 99), 3),
        maxMs: round(times.at(-1) ?? 0, 3),
        avgRows: round(rows / QUERIES, 1),
      };
      note(`${name.padEnd(20)} p50 ${latency[name]!.p50Ms} ms  p99 ${latency[name]!.p99Ms} ms`);
    }
    const bytes = (f: string) => statSync(scratch.file(f)).size;
    const result = {
      bench: 'audit',
      events: EVENTS,
      auditRows,
      auditSubjectRows: subjectRows,
      readModelMB: round(bytes('rm.sqlite') / 1e6, 1),
      readModelWithoutAuditMB: withoutAudit ? round(bytes('rm-baseline.sqlite') / 1e6, 1) : null,
      rebuildEventsPerSec: perSecond(full.events, full.ms),
      rebuildWithoutAuditEventsPerSec: withoutAudit
        ? perSecond(withoutAudit.events, withoutAudit.ms)
        : null,
      ratioRebuildWithVsWithoutAudit: withoutAudit
        ? round(perSecond(full.events, full.ms) / perSecond(withoutAudit.events, withoutAudit.ms))
        : null,
      replayUntil: new Date(middleMs).toISOString(),
      replayUntilEvents: replay.events,
      replayUntilEventsPerSec: perSecond(replay.events, replay.ms),
      ratioReplayUntilVsRebuild: round(
        perSecond(replay.events, replay.ms) / perSecond(full.events, full.ms),
      ),
      pageSize: PAGE,
      queriesPerFilter: QUERIES,
      latency,
      targetP99Ms: TARGET_P99_MS,
      targetsMet: {
        p99Under20Ms: Object.values(latency).every((l) => l.p99Ms < TARGET_P99_MS),
      },
    };
    rm.close();
    await store.close();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    scratch.remove();
  }
};

await main();
