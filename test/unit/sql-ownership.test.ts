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
