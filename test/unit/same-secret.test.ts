// Threat: a wrong operator token accepted, or the comparison throwing (a 500 instead of a 401)
// on a presented token of another length or with multi-byte characters.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sameSecret } from '../../src/http/authenticate.ts';

const expected = Buffer.from('operator-token-0123456789abcdefghijklmnop');

it('accepts exactly the expected token', () => {
  assert.equal(sameSecret('operator-token-0123456789abcdefghijklmnop', expected), true);
});

it('refuses a token differing in any one character, or in length, without throwing', () => {
  const token = expected.toString();
  for (let i = 0; i < token.length; i++) {
    const changed = `${token.slice(0, i)}${token[i] === 'x' ? 'y' : 'x'}${token.slice(i + 1)}`;
    assert.equal(sameSecret(changed, expected), false, changed);
  }
  for (const other of [
    '',
    token.slice(0, -1),
    `${token}x`,
    `${token.slice(0, -1)}é`,
    `${'é'.repeat(20)}a`, // as many bytes as the token
  ])
    assert.equal(sameSecret(other, expected), false, other);
});
