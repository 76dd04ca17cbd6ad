// Threat: a member that lies about another (issue 16 item 2). `EquivocationDetected` flags an
// origin on every node, so a forged one would brand an honest site. Every node checks the
// evidence itself: two different events, both validly signed by the accused origin for the same
// seq. Evidence with one forged half, or the same event twice, is refused as `false-evidence`
// and flags no one. RFC 8032 (signatures checked by each verifier, not trusted from a relay).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
import { generateNodeKey, sealEvent } from '../../src/events/signature.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import type { RawEvent } from '../../src/node/trust.ts';
import { recordRefusal } from '../../src/replication/cluster.ts';
import type { EventData, JsonObject } from '../../src/store/port.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';

const SYSTEM = { actor: 'system' } as const;
const logOf = async (n: AuthlogNode, origin: string): Promise<RawEvent[]> =>
  (await n.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX }))
    .filter((r) => r.metadata.origin === origin)
    .map(({ id, type, data, metadata }) => ({ id, type, data, metadata }));

describe('evidence of equivocation is checked by every node', () => {
  const nodes: AuthlogNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await stopNode(n);
  });

  for (const [name, twin] of [
    [
      'one half forged',
      (real: RawEvent): RawEvent => {
        const metadata = structuredClone(real.metadata) as JsonObject;
        delete metadata.sig;
        const data = { ...(real.data as JsonObject), principalId: 'other' };
        return sealEvent(generateNodeKey().key, { ...real, data, metadata } as EventData).data;
      },
    ],
    ['the same event twice', (real: RawEvent): RawEvent => real],
  ] as const) {
    it(`false evidence (${name}) is refused and flags no one`, async () => {
      const [honest, liar, victim] = await Promise.all(
        ['site-a', 'site-c', 'site-b'].map((id) => startMemoryNode(id)),
      );
      nodes.push(honest!, liar!, victim!);
      await honest!.execute(
        registerPrincipal({ principalId: 'p', kind: 'person', briefName: 'P' }),
        SYSTEM,
      );
      await pull(honest!, liar!);
      await pull(honest!, victim!);
      const real = (await logOf(honest!, 'site-a'))[0]!;
      // The liar signs, as itself, a claim that site-a equivocated at seq 1.
      await liar!.execute(
        recordRefusal('peer', {
          origin: 'site-a',
          seq: '1',
          eventId: real.id,
          reason: 'equivocation',
          detail: 'made up',
          evidence: [real, twin(real)],
        }),
        SYSTEM,
      );
      const result = await victim!.ingest.append(await logOf(liar!, 'site-c'));
      assert.equal(result.refused?.reason, 'false-evidence');
      assert.deepEqual(victim!.trust.summary().equivocations, []);
    });
  }
});
