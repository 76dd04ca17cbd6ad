// The convergence property for authentication events: random histories of logins, added
// evidence, elevations, touches, logouts, failures, lockouts, unlocks, policies, password sets
// and (de)activations, written concurrently at three origins with random partial syncs, give one
// read-model digest on every node once all hold every event — and the same digest when a fresh
// read model is fed those events in any order (the projector buffers what is not ready).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { defaultAuthConfig } from '../../src/authn/auth-config.ts';
import { setPassword } from '../../src/authn/credentials.ts';
import { recordFailure, unlockPrincipal } from '../../src/authn/lockout.ts';
import { passwordProvider, verifiedPassword } from '../../src/authn/password-provider.ts';
import { ARGON2_FLOOR, checkNewPassword, hashPassword } from '../../src/authn/passwords.ts';
import { setAuthPolicy } from '../../src/authn/policy.ts';
import {
  activatePrincipal,
  deactivatePrincipal,
  registerPrincipal,
} from '../../src/authn/principals.ts';
import { endSession, endSessionsOf, touchSession } from '../../src/authn/sessions/end.ts';
import { login } from '../../src/authn/sessions/login.ts';
import { addEvidence, elevate } from '../../src/authn/sessions/step-up.ts';
import { newSessionToken } from '../../src/authn/sessions/token.ts';
import { type Envelope, fromRecorded, ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
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
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';

const ORIGINS = ['a0', 'a1', 'a2'] as const;
const PRINCIPALS = ['p0', 'p1'];
const RUNS = Number(process.env.CONVERGENCE_RUNS ?? 40);
// A fixed seed by default: the coverage check below (every event type reached) must not depend
// on luck. Set FC_SEED to explore other histories; the seed in use is printed.
const SEED = Number(process.env.FC_SEED ?? 20261122);
const settings = { ...defaultAuthConfig, lockoutThreshold: 2, lockoutBaseS: 60 };
const providers = [passwordProvider];

const step = historyStep(14, 20);

const EVIDENCE_SETS = [[], ['knowledge'], ['knowledge', 'ownership'], ['location']];

describe('authentication events converge', () => {
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
    const commandFor = (node: AuthlogNode, s: Extract<Step, { kind: 'cmd' }>) => {
      const p = PRINCIPALS[s.a % PRINCIPALS.length]!;
      const sessions = node.read
        .all('SELECT id, principal_id FROM sessions ORDER BY ended, id')
        .map((r) => ({ id: String(r.id), principalId: String(r.principal_id) }));
      // Mostly the open ones (listed first): steps on ended sessions are refused.
      const open = node.read.get('SELECT COUNT(*) AS n FROM sessions WHERE ended = 0');
      const pool = s.b % 4 === 0 ? sessions.length : Number(open?.n ?? 0) || sessions.length;
      const session = pool ? sessions[s.b % pool] : undefined;
      const credential = node.read.get(
        'SELECT id, secret FROM credentials WHERE principal_id = ? AND revoked = 0 ORDER BY secret_hlc DESC, id DESC LIMIT 1',
        p,
      );
      const prepared = credential
        ? verifiedPassword(String(credential.id), String(credential.secret))
        : new Map();
      const step = (sid: string) => ({
        sessionId: sid,
        tokenHash: newSessionToken().hash,
        presented: { password: 'x' },
        ip: '10.0.0.1',
        prepared,
        providers,
        settings,
      });
      const fresh = `${node.id}x${counter++}`;
      const as = (actor: string, c: Command<unknown>) => ({ actor, c });
      switch (s.op) {
        case 0:
        case 1:
          return as(
            'system',
            login({
              sessionId: `s${fresh}`,
              tokenHash: newSessionToken().hash,
              transport: s.b % 2 ? 'cookie' : 'bearer',
              principalId: p,
              identity: p,
              presented: { password: 'x' },
              ip: '10.0.0.1',
              prepared,
              providers,
              settings,
            }),
          );
        case 2:
        case 13:
          return session ? as(session.principalId, addEvidence(step(session.id))) : undefined;
        case 3:
        case 14:
          return session ? as(session.principalId, elevate(step(session.id))) : undefined;
        case 4:
          if (s.b % 3 === 0) return as('system', endSessionsOf({ principalId: p }));
          return session
            ? as(session.principalId, endSession({ sessionId: session.id }))
            : undefined;
        case 5:
          return session
            ? as('system', touchSession({ sessionId: session.id, at: clock + s.b * 1000 }))
            : undefined;
        case 6:
        case 11:
        case 12:
          return as(
            'system',
            recordFailure(
              { principalId: p, reason: 'password', step: 'login', identity: p },
              settings,
            ),
          );
        case 7:
          return as('system', unlockPrincipal({ principalId: p }));
        case 8:
          return as(
            'system',
            setAuthPolicy({
              scope: 'principal',
              subjectId: p,
              require: EVIDENCE_SETS[s.b % EVIDENCE_SETS.length]!,
            }),
          );
        case 9:
          return as(
            'system',
            setPassword({ credentialId: `c${fresh}`, principalId: p, hash: hashes[s.b % 2]! }),
          );
        case 10:
          return as(
            'system',
            s.b % 2
              ? deactivatePrincipal({ principalId: p })
              : activatePrincipal({ principalId: p }),
          );
        default:
          return undefined;
      }
    };

    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 5, maxLength: 40 }),
        fc.integer(),
        async (steps, seed) => {
          for (const n of nodes.splice(0)) await stopNode(n);
          for (const id of ORIGINS) nodes.push(await startMemoryNode(id));
          const [first] = nodes;
          for (const p of PRINCIPALS) {
            await first!.execute(
              registerPrincipal({ principalId: p, kind: 'person', briefName: p }),
              {
                actor: 'system',
              },
            );
            await first!.execute(
              setPassword({ credentialId: `c-${p}`, principalId: p, hash: hashes[0]! }),
              { actor: 'system' },
            );
          }
          for (const n of nodes.slice(1)) await pull(first!, n);
          await playHistory(
            nodes,
            steps,
            (node, s) => {
              const planned = commandFor(node, s);
              return planned && { command: planned.c, meta: { actor: planned.actor, now: clock } };
            },
            () => {
              clock += 1000;
            },
          );
          await healAll(nodes);
          seen.push(
            ...(
              await nodes[0]!.store.readAll({
                streamPrefix: ORIGIN_STREAM_PREFIX,
                maxCount: 100_000,
              })
            ).map((r) => r.type),
          );
          const digests = nodes.map((n) => n.digest());
          assert.equal(new Set(digests).size, 1, 'nodes disagree');
          const events: Envelope[] = (
            await nodes[0]!.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX, maxCount: 100_000 })
          ).map((r) => fromRecorded(r));
          const r = replay(shuffledWithDuplicates(events, seed));
          assert.equal(r.buffered, 0);
          assert.equal(r.digest, digests[0], 'any delivery order gives the same digest');
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    console.log(`# fast-check seed ${SEED}`);
    // The histories reach what they should: every authentication event type, lockouts included.
    for (const type of [
      'SessionStarted',
      'SessionEvidenceAdded',
      'SessionElevated',
      'SessionTouched',
      'SessionEnded',
      'AuthenticationFailed',
      'PrincipalLockedOut',
      'PrincipalUnlocked',
      'AuthPolicySet',
    ])
      assert.ok(seen.includes(type), `no ${type} in ${RUNS} histories`);
  });
});
