// Each read model owns its SQL (issue 15 item 3): a read model's DDL, its projection handlers and
// every query on its tables live in its module under projections/, with typed row mappers. Outside
// projections/, only the read-model and store infrastructure (src/readmodel/, src/store/) writes
// SQL. This test reads the sources and fails on a query written anywhere else, so a new one is
// put where its table is.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = new URL('../..', import.meta.url).pathname;
const INFRASTRUCTURE = ['src/readmodel/', 'src/store/'];
// A statement handed to a database call (`.get(`SELECT …`, `.prepare("UPDATE …`), or a string that
// is one wherever it is passed (`const q = 'SELECT … FROM …'`).
const CALL =
  /\.(?:get|all|run|prepare|iterate|exec)\(\s*[`'"]\s*(?:SELECT|WITH|INSERT|UPDATE|DELETE|REPLACE|PRAGMA|CREATE)\b|[`'"]\s*(?:SELECT\s[^`'"]*\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s)/gi;

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );

describe('SQL lives with its read model', () => {
  it('no query on a read model table outside projections/ and the read-model and store infrastructure', () => {
    const outside = sources(join(ROOT, 'src'))
      .map((file) => relative(ROOT, file))
      .filter((file) => !INFRASTRUCTURE.some((dir) => file.startsWith(dir)))
      .flatMap((file) => {
        const text = readFileSync(join(ROOT, file), 'utf8');
        return [...text.matchAll(CALL)].map(
          (m) => `${file}:${text.slice(0, m.index).split('\n').length}`,
        );
      });
    assert.deepEqual(outside, []);
  });

  it('the check finds a query where it does not belong (the pattern is not vacuous)', () => {
    const sample = "const r = read.get(\n  'SELECT id FROM principals WHERE id = ?',\n  id,\n);";
    assert.equal([...sample.matchAll(CALL)].length, 1);
  });
});

// Within projections/, a module's SQL names only its own tables. Two exceptions, by design, both
// in handlers (queries never cross): the authority races are found from the audit rows (indexed by
// actor) instead of a second per-event log (docs/architecture.md), and an identity added to a
// principal deleted concurrently at another site is born removed, whichever arrives first.
const READS_ACROSS: Readonly<Record<string, readonly string[]>> = {
  'projections/authority.ts': ['audit'],
  'projections/identities.ts': ['principals'],
};

describe('a read model names only its own tables', () => {
  it('no projection module queries another read model’s tables', () => {
    const dir = join(ROOT, 'projections');
    const modules = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => ({ file: `projections/${f}`, text: readFileSync(join(dir, f), 'utf8') }));
    const owner = new Map<string, string>();
    for (const m of modules)
      for (const t of m.text.matchAll(/CREATE TABLE (\w+)/g)) owner.set(t[1] ?? '', m.file);
    const crossing: string[] = [];
    for (const m of modules) {
      // The SQL of the module: its string and template literals that read or write a table.
      for (const lit of m.text.matchAll(
        /[`'"]([^`'"]*\b(?:FROM|JOIN|INTO|UPDATE)\b[^`'"]*)[`'"]/g,
      )) {
        for (const t of (lit[1] ?? '').matchAll(/\b(?:FROM|JOIN|INTO|UPDATE)\s+(\w+)/g)) {
          const table = t[1] ?? '';
          const home = owner.get(table);
          if (home === undefined || home === m.file) continue;
          if (READS_ACROSS[m.file]?.includes(table)) continue;
          crossing.push(`${m.file} → ${table} (${home})`);
        }
      }
    }
    assert.deepEqual([...new Set(crossing)], []);
  });
});
