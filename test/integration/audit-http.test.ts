// GET /v1/audit over HTTP. Threats: an unprivileged principal reading the trail (403, and the
// attempt itself recorded), reads that leave no trace, refused administrative operations that
// leave no trace, and a flood of refusals flooding the log. Also: every filter returns exactly
// the rows it should (checked against the whole trail filtered here), and a walk by cursor sees
// every row once while new events keep arriving.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry } from '../../projections/audit.ts';
import type { ArrivalPage } from '../../src/accounting/arrival.ts';
import type { AuditPage } from '../../src/accounting/queries.ts';
import { hlcWallMs } from '../../src/clock/hlc.ts';
import { auth, startApp } from '../support/app.ts';

describe('GET /v1/audit', () => {
  let ctx: Awaited<ReturnType<typeof startApp>>;
  let annToken = '';
  let bobToken = '';
  const call = async (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    payload?: object,
    headers: Record<string, string> = auth,
    remoteAddress = '127.0.0.1',
  ) => {
    const r = await ctx.app.inject({
      method,
      url,
      headers,
      remoteAddress,
      ...(payload ? { payload } : {}),
    });
    return { status: r.statusCode, body: r.json() };
  };
  const page = async (query: string, headers = auth): Promise<AuditPage> => {
    const r = await call('GET', `/v1/audit?${query}`, undefined, headers);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as AuditPage;
  };
  /** The whole trail as the operator sees it now (one read, itself recorded first). */
  const everything = async (): Promise<AuditEntry[]> => (await page('limit=1000')).items;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async () => {
    ctx = await startApp('audit-http');
    for (const [id, name] of [
      ['ann', 'Ann'],
      ['bob', 'Bob'],
      ['cyd', 'Cyd'],
    ] as const) {
      assert.equal(
        (await call('POST', '/v1/principals', { principalId: id, briefName: name })).status,
        201,
      );
    }
    assert.equal(
      (await call('POST', '/v1/roles', { roleId: 'auditors', name: 'auditors' })).status,
      201,
    );
    assert.equal(
      (
        await call('PUT', '/v1/roles/auditors/grants', {
          privilege: 'authlog.audit.read',
          effect: 'grant',
        })
      ).status,
      200,
    );
    assert.equal(
      (await call('POST', '/v1/roles/auditors/members', { principalId: 'ann' })).status,
      200,
    );
    // Requests from other addresses, so the ip filter has something to tell apart.
    assert.equal(
      (
        await call(
          'POST',
          '/v1/principals/cyd/deactivate',
          { reason: 'on leave' },
          auth,
          '192.0.2.7',
        )
      ).status,
      200,
    );
    const ann = await call('POST', '/v1/principals/ann/tokens', { name: 'audit' });
    annToken = ann.body.token;
    const bob = await call('POST', '/v1/principals/bob/tokens', { name: 'cli' }, auth, '192.0.2.8');
    bobToken = bob.body.token;
  });
  after(() => ctx.close());

  it('refuses a principal without authlog.audit.read (403) and records the attempt', async () => {
    const r = await call('GET', '/v1/audit?limit=5', undefined, bearer(bobToken));
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'FORBIDDEN');
    const denied = await page('type=AccessDenied&actor=bob');
    const row = denied.items.find((e) => e.summary.includes('GET /v1/audit'));
    assert.ok(row, 'the refused read is in the trail');
    assert.match(row.summary, /lacks authlog\.audit\.read/);
    assert.equal(row.family, 'authorization');
    assert.equal(row.ip, '127.0.0.1');
    assert.ok(row.via, 'via the token bob used');
  });

  it('records a refused administrative operation with the missing privilege and its target', async () => {
    const r = await call(
      'POST',
      '/v1/principals/cyd/activate',
      undefined,
      bearer(bobToken),
      '192.0.2.9',
    );
    assert.equal(r.status, 403);
    const rows = (await page('type=AccessDenied&subject=cyd')).items;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.actor, 'bob');
    assert.equal(rows[0]!.ip, '192.0.2.9');
    assert.match(
      rows[0]!.summary,
      /POST \/v1\/principals\/:id\/activate: lacks authlog\.principals\.manage/,
    );
    // The refused command changed nothing.
    assert.equal((await call('GET', '/v1/principals/cyd')).body.active, false);
  });

  it('records a bounded number of refusals when a client floods them', async () => {
    for (let i = 0; i < 25; i++)
      assert.equal(
        (await call('POST', '/v1/roles', { roleId: `r${i}`, name: `r${i}` }, bearer(bobToken)))
          .status,
        403,
      );
    const rows = (await page('type=AccessDenied&actor=bob&limit=1000')).items;
    // 10 per actor per minute: at most that within this test, plus one per minute boundary crossed.
    assert.ok(rows.length <= 12, `recorded ${rows.length} refusals`);
    assert.ok(rows.length >= 3);
  });

  it('lets an auditor read, and records every read with its filters, never its rows', async () => {
    const r = await page('subject=cyd&limit=10', bearer(annToken));
    assert.ok(r.items.length > 0);
    const reads = (await page('type=AuditRead&actor=ann')).items;
    const mine = reads.find((e) => e.summary.includes('subject=cyd'));
    assert.ok(mine, 'the read is in the trail');
    assert.equal(mine.family, 'accounting');
    assert.equal(mine.summary, 'read the audit trail (limit=10 subject=cyd)');
  });

  it('returns, for each filter, exactly the rows of the whole trail that match it', async () => {
    const all = await everything();
    assert.ok(all.length > 20 && all.length < 1000);
    const mid = all[Math.floor(all.length / 3)]!;
    const late = all[Math.floor((2 * all.length) / 3)]!;
    const cases: [string, (e: AuditEntry) => boolean][] = [
      ['subject=cyd', (e) => e.subjects.includes('cyd')],
      ['subject=auditors', (e) => e.subjects.includes('auditors')],
      ['actor=bob', (e) => e.actor === 'bob'],
      ['actor=system', (e) => e.actor === 'system'],
      ['type=PrincipalRegistered', (e) => e.type === 'PrincipalRegistered'],
      [
        'type=RoleDefined,RoleMembershipGranted',
        (e) => e.type === 'RoleDefined' || e.type === 'RoleMembershipGranted',
      ],
      ['family=principal', (e) => e.family === 'principal'],
      ['family=credential', (e) => e.family === 'credential'],
      ['origin=audit-http', (e) => e.origin === 'audit-http'],
      ['origin=elsewhere', () => false],
      ['ip=192.0.2.7', (e) => e.ip === '192.0.2.7'],
      [`from=${encodeURIComponent(mid.at)}`, (e) => hlcWallMs(e.hlc) >= Date.parse(mid.at)],
      [
        `from=${encodeURIComponent(mid.at)}&to=${encodeURIComponent(late.at)}`,
        (e) => hlcWallMs(e.hlc) >= Date.parse(mid.at) && hlcWallMs(e.hlc) < Date.parse(late.at),
      ],
      [
        'actor=system&family=authorization',
        (e) => e.actor === 'system' && e.family === 'authorization',
      ],
    ];
    for (const [query, match] of cases) {
      const got = (await page(`${query}&limit=1000`)).items.filter((e) => e.hlc <= all.at(-1)!.hlc);
      const want = all.filter(match);
      assert.deepEqual(
        got.map((e) => e.eventId),
        want.map((e) => e.eventId),
        query,
      );
      if (!query.startsWith('origin=elsewhere'))
        assert.ok(want.length > 0, `${query} matches something`);
      // On one node the arrival order is the time order: the same rows, the same order.
      const arrived = (await page(`order=arrival&${query}&limit=1000`)).items.filter(
        (e) => e.hlc <= all.at(-1)!.hlc,
      );
      assert.deepEqual(
        arrived.map((e) => e.eventId),
        want.map((e) => e.eventId),
        `order=arrival&${query}`,
      );
    }
    // Several types are merged from one index range each: walk them a little at a time.
    const three = 'type=RoleDefined,RoleMembershipGranted,PrincipalRegistered';
    const walked: string[] = [];
    for (let cursor: string | null = null, n = 0; n === 0 || (cursor !== null && n < 50); n++) {
      const p: AuditPage = await page(`${three}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      walked.push(...p.items.filter((e) => e.hlc <= all.at(-1)!.hlc).map((e) => e.eventId));
      cursor = p.next;
    }
    assert.deepEqual(
      walked,
      all
        .filter((e) =>
          ['RoleDefined', 'RoleMembershipGranted', 'PrincipalRegistered'].includes(e.type),
        )
        .map((e) => e.eventId),
    );
    const ip = all.find((e) => e.ip === '192.0.2.7')!;
    assert.equal(ip.summary, 'deactivated principal cyd: on leave');
    const token = all.find((e) => e.type === 'AccessTokenIssued')!;
    assert.doesNotMatch(JSON.stringify(token), /[0-9a-f]{64}/, 'no secret hash in the trail');
  });

  it('walks every row exactly once, in order, while new events arrive', async () => {
    const seen: AuditEntry[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const p: AuditPage = await page(`limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...p.items);
      cursor = p.next;
      pages += 1;
      // New events between pages: a registration, and the page reads themselves.
      if (pages <= 8)
        assert.equal(
          (await call('POST', '/v1/principals', { principalId: `late${pages}`, briefName: 'L' }))
            .status,
          201,
        );
    } while (cursor !== null && pages < 500);
    assert.equal(cursor, null, 'the walk ends');
    const ids = seen.map((e) => e.eventId);
    assert.equal(new Set(ids).size, ids.length, 'no row twice');
    for (let i = 1; i < seen.length; i++)
      assert.ok(seen[i - 1]!.hlc < seen[i]!.hlc, 'in (hlc, id) order');
    const last = seen.at(-1)!.hlc;
    const all = (await everything()).filter((e) => e.hlc <= last);
    assert.deepEqual(
      ids,
      all.map((e) => e.eventId),
      'no row missed',
    );
    assert.ok(ids.includes((await page('subject=late8')).items[0]!.eventId));
  });

  it('walks in arrival order: every row once, a cursor to come back with at the end', async () => {
    const seen: AuditEntry[] = [];
    let cursor: string | null = null;
    let caughtUp = false;
    let pages = 0;
    do {
      const p: ArrivalPage = (await page(
        `order=arrival&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
      )) as ArrivalPage;
      seen.push(...p.items);
      assert.ok(p.next, 'arrival order always hands out a cursor');
      cursor = p.next;
      caughtUp = p.caughtUp;
      pages += 1;
    } while (!caughtUp && pages < 500);
    assert.ok(caughtUp);
    const ids = seen.map((e) => e.eventId);
    assert.equal(new Set(ids).size, ids.length, 'no row twice');
    const all = (await everything()).filter((e) => e.hlc <= seen.at(-1)!.hlc);
    assert.deepEqual(
      ids,
      all.map((e) => e.eventId),
      'no row missed',
    );
    // Later: the same cursor, without `order` (the cursor says which order), finds what came since.
    assert.equal(
      (await call('POST', '/v1/principals', { principalId: 'after', briefName: 'A' })).status,
      201,
    );
    const later = await page(`cursor=${cursor}`);
    assert.ok(later.items.some((e) => e.subjects.includes('after')));
    assert.ok(!later.items.some((e) => ids.includes(e.eventId)));
    // A time-order cursor is not an arrival cursor, and the other way round.
    const timeCursor = (await page('limit=1')).next!;
    assert.equal((await call('GET', `/v1/audit?order=arrival&cursor=${timeCursor}`)).status, 400);
    assert.equal((await call('GET', `/v1/audit?order=asc&cursor=${cursor}`)).status, 400);
    const foreign = Buffer.from('l|elsewhere|12/12').toString('base64url');
    const r = await call('GET', `/v1/audit?order=arrival&cursor=${foreign}`);
    assert.equal(r.status, 400);
    assert.match(r.body.detail, /node elsewhere/);
  });

  it('pages newest first with order=desc', async () => {
    const first = await page('order=desc&limit=4');
    assert.ok(first.next);
    const second = await page(`order=desc&limit=4&cursor=${first.next}`);
    const hlcs = [...first.items, ...second.items].map((e) => e.hlc);
    assert.deepEqual(hlcs, [...hlcs].sort().reverse());
    assert.equal((await call('GET', `/v1/audit?order=asc&cursor=${first.next}`)).status, 400);
  });

  it('refuses bad filters with 400 and records nothing for them', async () => {
    for (const q of [
      'type=NoSuchEvent',
      'from=yesterday',
      'from=2026-01-01T00:00:00',
      'limit=1001',
      'limit=0',
      'family=everything',
      'cursor=bm90LWEtY3Vyc29y',
      'colour=red',
    ]) {
      const r = await call('GET', `/v1/audit?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.code, 'VALIDATION_FAILED', q);
    }
    const reads = (await page('type=AuditRead&limit=1000')).items;
    assert.ok(!reads.some((e) => /NoSuchEvent|yesterday|everything|colour/.test(e.summary)));
  });
});
