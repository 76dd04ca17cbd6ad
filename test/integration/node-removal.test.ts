// Threat: a site that has to be cut out of the cluster — compromised, stolen, or decommissioned
// while it still writes (issue 16 item 1). Removal is a replicated event: from the seq it names,
// the removed node's events are inert on every node — stored, since they are validly signed and
// others' later events may depend on them, but without any effect — and every node reaches the
// same read model whether the removal or those events arrive first (a node that applied them
// first builds its read model again from the log). The removed node itself refuses to write once
// it hears of its removal. OWASP ASVS 5.0 V8.2 (authorization is enforced the same everywhere);
// DESIGN.md section 5 (rules are properties of the events, not of arrival order).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { inertEvents } from '../../projections/inert.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { addRoleMember } from '../../src/authz/commands.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { removeNode } from '../../src/replication/cluster.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';

const SYSTEM = { actor: 'system' } as const;
const register = (n: AuthlogNode, id: string) =>
  n.execute(registerPrincipal({ principalId: id, kind: 'person', briefName: id }), SYSTEM);
const has = (n: AuthlogNode, id: string) =>
  n.read.get('SELECT 1 AS x FROM principals WHERE id = ?', id) !== undefined;
const isAdmin = (n: AuthlogNode, id: string) =>
  n.read.get(
    "SELECT 1 AS x FROM memberships WHERE role_id = 'administrators' AND principal_id = ? AND granted = 1",
    id,
  ) !== undefined;

describe('removing a node from a seq on', () => {
  const nodes: AuthlogNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await stopNode(n);
  });

  it('its later events are inert everywhere, whichever arrives first; it can no longer write', async () => {
    const [n0, n1, n2] = await Promise.all(['n0', 'n1', 'n2'].map((id) => startMemoryNode(id)));
    nodes.push(n0!, n1!, n2!);
    await register(n2!, 'kept');
    await pull(n2!, n0!);
    await pull(n2!, n1!);
    // n0 removes n2 from the first seq it has not seen; n2, cut off, goes on: a principal and an
    // administrator membership for it.
    const removal = await n0!.execute(
      removeNode(
        'n2',
        'stolen',
        () => n0!.appliedVector(),
        () => true,
      ),
      SYSTEM,
    );
    assert.equal(removal.result.fromSeq, '2');
    await register(n2!, 'mallory');
    await n2!.execute(addRoleMember({ roleId: 'administrators', principalId: 'mallory' }), SYSTEM);
    // n1 hears n2 first (and applies mallory), then the removal; n0 the other way round.
    await pull(n2!, n1!);
    assert.ok(isAdmin(n1!, 'mallory'), 'before the removal arrives, n1 applied them');
    await pull(n0!, n1!);
    await pull(n2!, n0!);
    for (const n of [n0!, n1!]) {
      assert.ok(has(n, 'kept'), `${n.id}: what n2 wrote before seq 2 stands`);
      assert.equal(has(n, 'mallory'), false, `${n.id}: mallory is inert`);
      assert.equal(isAdmin(n, 'mallory'), false, `${n.id}: no administrator from a removed node`);
      assert.deepEqual(
        inertEvents(n.read).map((e) => `${e.origin}:${e.seq} ${e.type}`),
        ['n2:2 PrincipalRegistered', 'n2:3 RoleMembershipGranted'],
      );
    }
    assert.equal(n0!.digest(), n1!.digest());
    // Everyone holds the same events, inert ones included: the vectors agree.
    assert.deepEqual(n0!.appliedVector(), n1!.appliedVector());
    // n2 hears of its removal and refuses to write.
    await pull(n0!, n2!);
    await assert.rejects(register(n2!, 'later'), { code: 'NOT_ENROLLED' });
    await pull(n1!, n2!);
    assert.equal(n2!.digest(), n0!.digest());
  });

  it('a removal refused without the privilege writes nothing', async () => {
    const n0 = await startMemoryNode('n0');
    nodes.push(n0);
    const before = n0.appliedVector();
    await assert.rejects(
      n0.execute(
        removeNode(
          'n2',
          'x',
          () => n0.appliedVector(),
          () => true,
        ),
        {
          actor: 'nobody',
        },
      ),
      { status: 403 },
    );
    assert.deepEqual(n0.appliedVector(), before);
  });
});
