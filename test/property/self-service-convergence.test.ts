// The convergence property for self-service events (registration with a verification token,
// email verification, password reset requested and completed, passwords set in between):
// random histories at three origins with random partial syncs, where the same address can be
// registered and the same token used at two sites before they hear of each other, give one
// digest on every node once all hold every event, and the same digest when a fresh read model is
// fed those events in any order.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { setPassword } from '../../src/authn/credentials.ts';
import { ARGON2_FLOOR, checkNewPassword, hashPassword } from '../../src/authn/passwords.ts';
import {
  completePasswordReset,
  newAccountToken,
  RESET_PREFIX,
  registerSelf,
  requestPasswordReset,
  VERIFY_PREFIX,
  verifyEmail,
} from '../../src/authn/self-service.ts';
import { type Envelope, fromRecorded, ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
import * as normalize from '../../src/events/normalize.ts';
import type { Command } from '../../src/node/command.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import {
  healAll,
  historyStep,
  playHistory,
  replay,
  type Step,
  shuffledWithDuplicates,
} from '../support/convergence.ts';
import { startMemoryNode, stopNode } from '../support/in-process.ts';

const ORIGINS = ['s0', 's1', 's2'] as const;
const EMAILS = ['ann@example.org', 'bob@example.org'];
const RUNS = Number(process.env.CONVERGENCE_RUNS ?? 30);
// A fixed seed by default, so the coverage check (every event type reached) does not depend on
// luck; FC_SEED explores other histories.
const SEED = Number(process.env.FC_SEED ?? 20261122);

const step = historyStep(7, 20);

describe('self-service events converge', () => {
  const nodes: AuthlogNode[] = [];
  after(async () => {
    for (const n of nodes) await stopNode(n);
  });

  it('one digest for any concurrent history and any delivery order', async () => {
    const hashes = await Promise.all(
      ['first password here', 'second password here'].map((p) =>
        hashPassword(checkNewPassword(p), ARGON2_FLOOR),
      ),
    );
    const seen: string[] = [];
    let counter = 0;
    let clock = Date.now();
    const commandFor = (
      node: AuthlogNode,
      s: Extract<Step, { kind: 'cmd' }>,
    ): Command<unknown> | undefined => {
      const fresh = `${node.id}x${counter++}`;
      const tokens = (purpose: string) =>
        node.read
          .all(
            'SELECT token_hash FROM account_tokens WHERE purpose = ? ORDER BY used, token_hash',
            purpose,
          )
          .map((r) => String(r.token_hash));
      const principals = node.read
        .all("SELECT id FROM principals WHERE id LIKE 'u%' ORDER BY id")
        .map((r) => String(r.id));
      switch (s.op) {
        case 0:
        case 1: {
          const email = normalize.email('email', EMAILS[s.a % EMAILS.length]!);
          return registerSelf({
            principalId: `u${fresh}`,
            identityId: `i${fresh}`,
            credentialId: `c${fresh}`,
            briefName: 'someone',
            email,
            hash: hashes[s.b % 2]!,
            tokenHash: newAccountToken(VERIFY_PREFIX).hash,
            lifetimeS: 3600,
          });
        }
        case 2: {
          const t = tokens('verify-email');
          return t.length ? verifyEmail({ tokenHash: t[s.b % t.length]! }) : undefined;
        }
        case 3:
        case 6: {
          const p = principals[s.a % (principals.length || 1)];
          return p
            ? requestPasswordReset({
                principalId: p,
                tokenHash: newAccountToken(RESET_PREFIX).hash,
                lifetimeS: 3600,
              })
            : undefined;
        }
        case 4:
        case 7: {
          const t = tokens('reset-password');
          return t.length
            ? completePasswordReset({
                tokenHash: t[s.b % t.length]!,
                hash: hashes[s.a % 2]!,
                credentialId: `c${fresh}`,
              })
            : undefined;
        }
        case 5: {
          const p = principals[s.a % (principals.length || 1)];
          return p
            ? setPassword({ credentialId: `c${fresh}`, principalId: p, hash: hashes[s.b % 2]! })
            : undefined;
        }
        default:
          return undefined;
      }
    };

    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 10, maxLength: 50 }),
        fc.integer(),
        async (steps, seed) => {
          for (const n of nodes.splice(0)) await stopNode(n);
          for (const id of ORIGINS) nodes.push(await startMemoryNode(id));
          await playHistory(
            nodes,
            steps,
            (node, s) => {
              const command = commandFor(node, s);
              const actor = s.op === 5 ? 'system' : 'anonymous';
              return command && { command, meta: { actor, now: clock } };
            },
            () => {
              clock += 1000;
            },
          );
          await healAll(nodes);
          const records = await nodes[0]!.store.readAll({
            streamPrefix: ORIGIN_STREAM_PREFIX,
            maxCount: 100_000,
          });
          seen.push(...records.map((r) => r.type));
          const digests = nodes.map((n) => n.digest());
          assert.equal(new Set(digests).size, 1, 'nodes disagree');
          const events: Envelope[] = records.map((r) => fromRecorded(r));
          const r = replay(shuffledWithDuplicates(events, seed));
          assert.equal(r.buffered, 0);
          assert.equal(r.digest, digests[0], 'any delivery order gives the same digest');
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    for (const type of [
      'PrincipalRegistered',
      'EmailVerificationIssued',
      'EmailVerified',
      'PasswordResetIssued',
      'PasswordResetCompleted',
    ])
      assert.ok(seen.includes(type), `no ${type} in ${RUNS} histories`);
  });
});
