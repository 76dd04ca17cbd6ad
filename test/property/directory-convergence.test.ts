// The convergence property for external directory events (issue 17): random histories at three
// origins with random partial syncs, where the same directory entry is provisioned just in time at
// two sites before they hear of each other (the same derived ids, different HLCs), the external
// role directory's observations of a principal's groups race, the directory's settings change at
// two sites at once and a linked account is revoked: once every node holds every event they have
// one digest, the same as a fresh read model fed those events in any order with duplicates; and
// each entry is one principal.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  changeCredentialDirectory,
  defineCredentialDirectory,
} from '../../src/authn/credentials.ts';
import type { Account } from '../../src/authn/directory-port.ts';
import { derivedId, provisionAccount, recordObservations } from '../../src/authn/provision.ts';
import { revokeCredential } from '../../src/authn/tokens.ts';
import { defineRoleDirectory } from '../../src/authz/commands.ts';
import { type Envelope, fromRecorded, ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import {
  healAll,
  historyStep,
  playHistory,
  replay,
  shuffledWithDuplicates,
} from '../support/convergence.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';

const ORIGINS = ['d0', 'd1', 'd2'] as const;
const RUNS = Number(process.env.CONVERGENCE_RUNS ?? 30);
const SEED = Number(process.env.FC_SEED ?? 20261205);
const sys = { actor: 'system' };

const account = (i: number): Account => ({
  dn: `uid=user${i},ou=people,dc=example,dc=org`,
  entryId: `0000000${i}-1111-2222-3333-444444444444`,
  name: `user${i}`,
  fullName: `User ${i}`,
  briefName: `U${i}`,
  email: `user${i}@example.org`,
  refusal: undefined,
});
const ACCOUNTS = [account(0), account(1)];
const GROUPS = ['staff', 'admins', 'auditors'];
const ldap = (n: number) => ({
  urls: [`ldaps://ldap${n}.example.org`],
  baseDn: 'ou=people,dc=example,dc=org',
  identityDirectoryId: 'internal',
});

describe('external directory events converge', () => {
  const nodes: AuthlogNode[] = [];
  after(async () => {
    for (const n of nodes) await stopNode(n);
  });

  it('one digest and one principal per entry for any concurrent history and delivery order', async () => {
    const seen = new Set<string>();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(historyStep(4, 7), { minLength: 4, maxLength: 24 }),
        fc.nat(),
        async (steps, seed) => {
          run += 1;
          const ns = await Promise.all(ORIGINS.map((o) => startMemoryNode(`${o}r${run}`)));
          nodes.push(...ns);
          const [first] = ns;
          await first!.execute(
            defineCredentialDirectory({
              directoryId: 'corp',
              name: 'corp',
              kind: 'ldap',
              evidences: ['knowledge'],
              ldap: ldap(0),
            }),
            sys,
          );
          await first!.execute(
            defineRoleDirectory({
              directoryId: 'corp-groups',
              name: 'corp-groups',
              external: {
                credentialDirectoryId: 'corp',
                groupBaseDn: 'ou=groups,dc=example,dc=org',
                groupFilter: '(objectClass=groupOfNames)',
                memberAttribute: 'member',
                nameAttribute: 'cn',
                nested: 'recursive',
                refreshSeconds: 300,
              },
            }),
            sys,
          );
          for (const n of ns.slice(1)) await pull(first!, n);
          await playHistory(ns, steps, (_node, s) => {
            const acc = ACCOUNTS[s.a % ACCOUNTS.length]!;
            const principalId = derivedId('principal', 'corp', acc.entryId);
            switch (s.op) {
              case 0:
              case 1:
                seen.add('provision');
                return {
                  command: provisionAccount({
                    directoryId: 'corp',
                    identityDirectoryId: 'internal',
                    account: acc,
                  }),
                  meta: { actor: 'anonymous' },
                };
              case 2:
                seen.add('observe');
                return {
                  command: recordObservations([
                    {
                      principalId,
                      directoryId: 'corp-groups',
                      groupKeys: GROUPS.filter((_, k) => (s.b >> k) & 1).sort(),
                    },
                  ]),
                  meta: sys,
                };
              case 3:
                seen.add('settings');
                return {
                  command: changeCredentialDirectory({ directoryId: 'corp', ldap: ldap(s.b) }),
                  meta: sys,
                };
              default:
                seen.add('revoke');
                return {
                  command: revokeCredential({
                    credentialId: derivedId('credential', 'corp', acc.entryId),
                    reason: 'left',
                  }),
                  meta: sys,
                };
            }
          });
          await healAll(ns);
          const digests = ns.map((n) => n.digest());
          assert.equal(new Set(digests).size, 1, 'every node the same read model');
          const records = await first!.store.readAll({
            streamPrefix: ORIGIN_STREAM_PREFIX,
            maxCount: 100_000,
          });
          const events: Envelope[] = records.map((r) => fromRecorded(r));
          assert.equal(replay(shuffledWithDuplicates(events, seed)).digest, digests[0]);
          // One principal per entry, however many sites provisioned it.
          for (const acc of ACCOUNTS) {
            const id = derivedId('principal', 'corp', acc.entryId);
            const rows = first!.read.all('SELECT id FROM principals WHERE id = ?', id);
            assert.ok(rows.length <= 1);
          }
          for (const n of ns) await stopNode(n);
          nodes.length = 0;
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    assert.deepEqual([...seen].sort(), ['observe', 'provision', 'revoke', 'settings']);
  });
});
