// Each convergence rule of DESIGN.md section 5, shown on two sites that write concurrently
// (no exchange between the writes) and then exchange everything.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  activatePrincipal,
  addIdentity,
  changeProfile,
  deactivatePrincipal,
  deletePrincipal,
  registerPrincipal,
} from '../../src/authn/principals.ts';
import { getPrincipal, identitiesOf, listConflicts } from '../../src/authn/queries.ts';
import type { Command } from '../../src/node/command.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';

describe('convergence rules between two sites', () => {
  let a: AuthlogNode;
  let b: AuthlogNode;
  const exec = <R>(n: AuthlogNode, c: Command<R>) => n.execute(c, { actor: 'system' });
  const exchange = async () => {
    await pull(a, b);
    await pull(b, a);
    assert.equal(a.digest(), b.digest());
  };
  beforeEach(async () => {
    a = await startMemoryNode('site-a');
    b = await startMemoryNode('site-b');
    await exec(a, registerPrincipal({ principalId: 'p1', kind: 'person', briefName: 'One' }));
    await exchange();
  });
  afterEach(async () => {
    await stopNode(a);
    await stopNode(b);
  });

  it('LWW: concurrent profile changes end with the highest HLC everywhere', async () => {
    await exec(a, changeProfile({ principalId: 'p1', fullName: 'From A' }));
    await exec(b, changeProfile({ principalId: 'p1', fullName: 'From B' }));
    // b decided later in wall time on this machine, but the rule is HLC order, not arrival.
    const hlcA = a.read.get('SELECT full_name_hlc AS h FROM principals WHERE id = ?', 'p1')!
      .h as string;
    const hlcB = b.read.get('SELECT full_name_hlc AS h FROM principals WHERE id = ?', 'p1')!
      .h as string;
    await exchange();
    const expected = hlcA > hlcB ? 'From A' : 'From B';
    assert.equal(getPrincipal(a.read, 'p1')!.fullName, expected);
    assert.equal(getPrincipal(b.read, 'p1')!.fullName, expected);
  });

  it('restrictive: a concurrent deactivate beats an activate, in either arrival order', async () => {
    await exec(a, deactivatePrincipal({ principalId: 'p1', reason: 'suspected' }));
    await exec(a, activatePrincipal({ principalId: 'p1' })); // A disables and re-enables …
    await exec(b, deactivatePrincipal({ principalId: 'p1', reason: 'left' })); // … while B, not knowing, disables
    assert.equal(getPrincipal(a.read, 'p1')!.active, true);
    await exchange();
    assert.equal(getPrincipal(a.read, 'p1')!.active, false);
    assert.equal(getPrincipal(b.read, 'p1')!.active, false);
    // A later enable that has seen both wins again.
    await exec(b, activatePrincipal({ principalId: 'p1' }));
    await exchange();
    assert.equal(getPrincipal(a.read, 'p1')!.active, true);
  });

  it('terminal: a delete is final; an identity added concurrently is born removed', async () => {
    await exec(a, deletePrincipal({ principalId: 'p1' }));
    await exec(b, addIdentity({ identityId: 'i-b', principalId: 'p1', name: 'one' }));
    await exec(b, changeProfile({ principalId: 'p1', briefName: 'Revived?' }));
    await exchange();
    for (const n of [a, b]) {
      assert.equal(getPrincipal(n.read, 'p1')!.deleted, true);
      assert.deepEqual(
        identitiesOf(n.read, 'p1').map((i) => [i.id, i.status]),
        [['i-b', 'released']],
      );
    }
  });

  it('unique claim: the same name registered at both sites — earliest holds, the other is a listed conflict', async () => {
    await exec(
      a,
      registerPrincipal({
        principalId: 'pa',
        kind: 'person',
        briefName: 'A',
        email: 'sam@x.org',
        identity: { identityId: 'ia', name: 'sam' },
      }),
    );
    await exec(
      b,
      registerPrincipal({
        principalId: 'pb',
        kind: 'person',
        briefName: 'B',
        email: 'SAM@x.org',
        identity: { identityId: 'ib', name: 'Sam' },
      }),
    );
    await exchange();
    const ia = a.read.get("SELECT hlc FROM identities WHERE id = 'ia'")!.hlc as string;
    const ib = a.read.get("SELECT hlc FROM identities WHERE id = 'ib'")!.hlc as string;
    const [winner, loser] = ia < ib ? ['ia', 'ib'] : ['ib', 'ia'];
    for (const n of [a, b]) {
      const conflicts = listConflicts(n.read);
      const identity = conflicts.find((c) => c.kind === 'unique-identity');
      assert.equal(identity?.subject, loser);
      assert.equal(identity?.winner, winner);
      assert.ok(conflicts.some((c) => c.kind === 'unique-email'));
    }
    // Removing the holder hands the name to the remaining claim, everywhere.
    await exec(a, deletePrincipal({ principalId: winner === 'ia' ? 'pa' : 'pb' }));
    await exchange();
    assert.equal(a.read.get('SELECT status FROM identities WHERE id = ?', loser)!.status, 'held');
    assert.deepEqual(listConflicts(b.read), []);
  });
});
