// Fault: a damaged read-model file (4 KiB of garbage written into it while the node was stopped,
// or over its header). The node used to say ready and answer `/v1/status?digest=true` with 500.
// Now a file that fails SQLite's quick_check, or is not a database at all, is thrown away with a
// warning and rebuilt from the log to the same digest; a refusing caller (onStale 'throw') gets
// ReadModelCorruptError. And `/v1/status` never answers 500: a digest that cannot be computed is
// named in `digestError`, a status that cannot be read at all (the caller's token cannot even be
// looked up) is a 503 READ_MODEL_UNAVAILABLE.
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pino from 'pino';
import { projections } from '../../projections/index.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { buildApp } from '../../src/http/app.ts';
import { type AuthlogNode, startNode } from '../../src/node/node.ts';
import { bootMarkerPath } from '../../src/readmodel/boot-guard.ts';
import { openReadModel, ReadModelCorruptError } from '../../src/readmodel/database.ts';
import { digestTables } from '../../src/readmodel/digest.ts';
import type { EventStore } from '../../src/store/port.ts';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { auth, TOKEN, UNTHROTTLED } from '../support/app.ts';
import { testTrust } from '../support/keys.ts';
import { removeDir, tempDir } from '../support/process.ts';

const PAGE = 4096;

// Garbage that is the same on every run (mulberry32); its first byte is no b-tree page type.
const garbage = (length: number, seed = 16): Buffer => {
  let a = seed >>> 0;
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    bytes[i] = (t ^ (t >>> 14)) >>> 24;
  }
  bytes[0] = 0xee;
  return bytes;
};

const overwrite = (path: string, offset: number, bytes: Buffer) => {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
};

type Logged = { level: number; msg: string; damage?: string; path?: string };

const startLogged = async (store: EventStore, readModelPath: string) => {
  const logged: Logged[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        logged.push(JSON.parse(line) as Logged);
      done();
    },
  });
  const node = await startNode({
    nodeId: 'n1',
    store,
    readModelPath,
    ...testTrust('n1'),
    log: pino({ level: 'warn' }, stream),
  });
  await node.ready;
  return { node, logged };
};

const writeSome = async (node: AuthlogNode, n: number, prefix = 'p') => {
  for (let i = 0; i < n; i++)
    await node.execute(
      registerPrincipal({
        principalId: `${prefix}${i}`,
        kind: 'person',
        briefName: `${prefix} ${i} ${'x'.repeat(150)}`,
        identity: { identityId: `i-${prefix}${i}`, name: `${prefix}${i}` },
      }),
      { actor: 'system' },
    );
};

/** The b-tree pages of the read model's tables that `digest()` reads, by table. Asked on a
 * connection of its own: dbstat reads every page, and the node's reader would keep them cached. */
const digestPages = (path: string): Map<string, number[]> => {
  const db = new Database(path, { readonly: true });
  try {
    const tables = new Set(digestTables(db));
    const pages = new Map<string, number[]>();
    for (const { name, pageno } of db
      .prepare('SELECT name, pageno FROM dbstat ORDER BY pageno')
      .all() as { name: string; pageno: number }[]) {
      if (tables.has(name)) pages.set(name, [...(pages.get(name) ?? []), pageno]);
    }
    return pages;
  } finally {
    db.close();
  }
};

const app = (node: AuthlogNode) =>
  buildApp({ node, operatorToken: TOKEN, logger: false, edge: UNTHROTTLED });

describe('a damaged read model', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));
  const setUp = () => {
    const dir = tempDir('fault-read-model');
    dirs.push(dir);
    const store = openSqliteStore({ path: join(dir, 'events.sqlite') });
    return { store, readModelPath: join(dir, 'rm.sqlite') };
  };

  it('4 KiB of garbage in the middle while stopped: rebuilt from the log, same digest, status answers', async () => {
    const { store, readModelPath } = setUp();
    const first = await startLogged(store, readModelPath);
    await writeSome(first.node, 60);
    const before = first.node.digest();
    const applied = first.node.appliedVector();
    // The page of a table in the middle of the file (the free list holds nothing to damage).
    const middle = Math.floor(statSync(readModelPath).size / PAGE / 2) + 1;
    const pages = [...digestPages(readModelPath).values()].flat();
    const page = pages.reduce((a, b) => (Math.abs(b - middle) < Math.abs(a - middle) ? b : a));
    await first.node.close();

    overwrite(readModelPath, (page - 1) * PAGE, garbage(PAGE));
    const second = await startLogged(store, readModelPath);
    try {
      const warned = second.logged.find((l) => l.msg.startsWith('read model is damaged'));
      assert.ok(warned, `no warning logged: ${JSON.stringify(second.logged)}`);
      assert.equal(warned.level, 40); // warn
      assert.equal(warned.path, readModelPath);
      assert.ok(warned.damage && warned.damage.length > 0, 'the warning names the damage');
      assert.deepEqual(second.node.appliedVector(), applied);
      assert.equal(second.node.digest(), before);

      const http = app(second.node);
      await http.ready();
      try {
        const r = await http.inject({ url: '/v1/status?digest=true', headers: auth });
        assert.equal(r.statusCode, 200, r.body);
        assert.equal(r.json().digest, before);
        assert.equal(r.json().ready, true);
      } finally {
        await http.close();
      }
    } finally {
      await second.node.close();
      await store.close();
    }
  });

  it('garbage over the header (not a database any more): rebuilt from the log', async () => {
    const { store, readModelPath } = setUp();
    const first = await startLogged(store, readModelPath);
    await writeSome(first.node, 10);
    const before = first.node.digest();
    await first.node.close();

    overwrite(readModelPath, 0, garbage(PAGE, 7));
    const second = await startLogged(store, readModelPath);
    try {
      const warned = second.logged.find((l) => l.msg.startsWith('read model is damaged'));
      assert.match(warned?.damage ?? '', /^SQLITE_NOTADB/);
      assert.equal(second.node.digest(), before);
    } finally {
      await second.node.close();
      await store.close();
    }
  });

  it('a caller that does not reset refuses a damaged file and leaves it as it is', async () => {
    const { store, readModelPath } = setUp();
    const first = await startLogged(store, readModelPath);
    await writeSome(first.node, 10);
    await first.node.close();
    await store.close();
    overwrite(readModelPath, 0, garbage(PAGE, 3));
    const size = statSync(readModelPath).size;
    assert.throws(
      () => openReadModel(readModelPath, projections, { onStale: 'throw' }),
      ReadModelCorruptError,
    );
    assert.equal(statSync(readModelPath).size, size);
    assert.equal(existsSync(bootMarkerPath(readModelPath)), false);
  });
});

describe('/v1/status never answers 500', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach(removeDir));

  it('a digest that cannot be computed is named in digestError; the rest of status answers', async () => {
    const dir = tempDir('fault-status');
    dirs.push(dir);
    const store = openSqliteStore({ path: join(dir, 'events.sqlite') });
    const readModelPath = join(dir, 'rm.sqlite');
    const { node } = await startLogged(store, readModelPath);
    const http = app(node);
    try {
      await writeSome(node, 40);
      await http.ready();
      // Everything into the file, then garbage over every page of the largest table the digest
      // reads and nothing else asked for (the reader has none of them cached).
      node.readModel.writer.pragma('wal_checkpoint(TRUNCATE)');
      const [, pages] = [...digestPages(readModelPath)].reduce((a, b) =>
        b[1].length > a[1].length ? b : a,
      );
      for (const page of pages) overwrite(readModelPath, (page - 1) * PAGE, garbage(PAGE, page));

      const r = await http.inject({ url: '/v1/status?digest=true', headers: auth });
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json();
      assert.equal(body.digest, undefined);
      assert.match(body.digestError, /^SQLITE_CORRUPT/);
      assert.equal(body.node, 'n1');
      assert.equal(body.ready, true);

      const plain = await http.inject({ url: '/v1/status', headers: auth });
      assert.equal(plain.statusCode, 200, plain.body);
      assert.equal(plain.json().digestError, undefined);

      // Replication status needs the digest: a problem, not a 500. Metrics still answer.
      const replication = await http.inject({ url: '/v1/replication/status', headers: auth });
      assert.equal(replication.statusCode, 503, replication.body);
      assert.equal(replication.json().code, 'READ_MODEL_UNAVAILABLE');
      const metrics = await http.inject({ url: '/metrics', headers: auth });
      assert.equal(metrics.statusCode, 200, metrics.body);
    } finally {
      await http.close();
      await node.close();
      await store.close();
    }
  });

  it('a status that cannot be read at all is a 503 READ_MODEL_UNAVAILABLE problem, cause not told', async () => {
    const dir = tempDir('fault-status');
    dirs.push(dir);
    const store = openSqliteStore({ path: join(dir, 'events.sqlite') });
    const { node } = await startLogged(store, join(dir, 'rm.sqlite'));
    const http = app(node);
    try {
      await http.ready();
      // The read model's query connection is gone: nothing that reads it can answer, the lookup
      // of a caller's access token included (only the operator token is not looked up there).
      node.readModel.reader.close();
      const r = await http.inject({
        url: '/v1/status?digest=true',
        headers: { authorization: `Bearer alt_${'A'.repeat(43)}` },
      });
      assert.equal(r.statusCode, 503, r.body);
      assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(r.json().code, 'READ_MODEL_UNAVAILABLE');
      assert.doesNotMatch(r.body, /database|connection|TypeError/i, 'the cause stays in the log');
      // The operator is not looked up: it gets the status, its digest's failure named.
      const operator = await http.inject({ url: '/v1/status?digest=true', headers: auth });
      assert.notEqual(operator.statusCode, 500, operator.body);
    } finally {
      await http.close();
      await node.close();
      await store.close();
    }
  });
});
