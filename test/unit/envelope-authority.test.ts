// The grants an administrative event was authorized by travel in its envelope (`authority`):
// stored and replicated with it, read back unchanged, and refused when malformed (a peer's feed
// is untrusted input).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Envelope,
  fromRecorded,
  MalformedEventError,
  toEventData,
} from '../../src/events/envelope.ts';

const base = {
  id: '01JC0000000000000000000000',
  type: 'RoleDeleted',
  data: { roleId: 'ops' },
  origin: 'site-a',
  seq: 7n,
  hlc: '01a203db3b4c0000@site-a',
  deps: { 'site-a': 6n },
  schema: 1,
  actor: 'mgr',
} as const;

const uses = [
  { role: 'managers', grantedBy: 'staff', grant: 'privilege:authlog.roles.manage' },
  { role: 'managers', grantedBy: 'managers', grant: 'model:invoice:update' },
  { role: 'juniors', grantedBy: 'staff', grant: 'privilege:authlog.admin', between: ['mid'] },
];

const recorded = (authority: unknown) => {
  const { id, type, data, metadata } = toEventData({ ...base } as unknown as Envelope);
  return { id, type, data, metadata: { ...metadata, authority } as typeof metadata };
};

describe('envelope authority', () => {
  it('round-trips through the stored form', () => {
    const stored = toEventData({ ...base, authority: uses } as unknown as Envelope);
    assert.deepEqual(stored.metadata.authority, uses);
    assert.deepEqual(fromRecorded(stored, true).authority, uses);
  });

  it('is absent on events that carry none', () => {
    const stored = toEventData({ ...base } as unknown as Envelope);
    assert.equal('authority' in stored.metadata, false);
    assert.equal(fromRecorded(stored).authority, undefined);
  });

  it('refuses a malformed list', () => {
    for (const bad of [
      'managers',
      [],
      [{ role: 'managers', grantedBy: 'managers' }],
      [{ role: 'managers', grantedBy: 'managers', grant: 42 }],
      [{ role: '', grantedBy: 'managers', grant: 'privilege:x' }],
      [null],
      [{ ...uses[0], between: 'mid' }],
      [{ ...uses[0], between: ['mid', 7] }],
      [{ ...uses[0], between: Array.from({ length: 65 }, (_, i) => `r${i}`) }],
      Array.from({ length: 33 }, () => uses[0]),
    ]) {
      assert.throws(() => fromRecorded(recorded(bad)), MalformedEventError, JSON.stringify(bad));
    }
  });
});
