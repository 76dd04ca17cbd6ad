// Threat: terminal injection through server-provided strings (CWE-150, Trojan Source /
// CVE-2021-42574). A name that reached the store by another path (an older node, a replicated
// event) must not move the cursor, recolour the screen or reorder what the operator reads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { json, keyValues, safe, table } from '../../src/cli/output.ts';

const hostile = 'a\u001b[2Jb\u009b31mc\u202ed\u2066e\r\nf\u0007';

describe('CLI output escaping', () => {
  it('escapes C0, C1 and bidi controls in human output', () => {
    assert.equal(safe(hostile), 'a\\x1b[2Jb\\x9b31mc\\u202ed\\u2066e\\x0d\\x0af\\x07');
    for (const text of [
      safe(hostile),
      table(['NAME'], [[hostile]]),
      keyValues([['name', hostile]]),
    ])
      assert.doesNotMatch(text.replaceAll('\n', ''), /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u);
    assert.equal(safe('Zoë 名前'), 'Zoë 名前');
  });

  it('keeps JSON output valid and equal in value, with no raw control or bidi characters', () => {
    const value = { name: hostile, list: [hostile] };
    const text = json(value);
    assert.deepEqual(JSON.parse(text), value);
    assert.doesNotMatch(text.replaceAll('\n', ''), /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u);
  });

  it('aligns table columns', () => {
    assert.equal(
      table(
        ['ID', 'NAME'],
        [
          ['a', 'x'],
          ['long-id', ''],
        ],
      ),
      'ID       NAME\na        x\nlong-id  -',
    );
  });
});
