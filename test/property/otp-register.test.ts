// The used OTP step is a max register: whatever steps three sites record concurrently, and in
// whatever order (even non-causal, with duplicates) a read model receives those events, it ends
// with the same digest and the highest step, so a code used anywhere is refused everywhere once
// the use has arrived. Also the register helper alone: any permutation, any duplication.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { projections } from '../../projections/index.ts';
import { confirmOtp, enrollOtp, seedToBase32 } from '../../src/authn/otp.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { encryptSeed, keyringFrom } from '../../src/authn/seed-crypto.ts';
import { type Envelope, fromRecorded, ORIGIN_STREAM_PREFIX } from '../../src/events/envelope.ts';
import type { Command } from '../../src/node/command.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { openReadModel } from '../../src/readmodel/database.ts';
import { digest } from '../../src/readmodel/digest.ts';
import { createProjector } from '../../src/readmodel/projector.ts';
import { maxUpdate } from '../../src/readmodel/registers.ts';
import { pull, startMemoryNode, stopNode } from '../support/in-process.ts';
import { oathHotp } from '../support/oathtool.ts';

const RUNS = Number(process.env.OTP_REGISTER_RUNS ?? 10);
const CREDENTIAL = 'otp-reg';

/** What the OTP provider's decide records when it accepts a code. */
const used = (step: number): Command<null> => ({
  name: 'RecordOtpUse',
  decide: () => ({
    events: [{ type: 'OtpUsed', data: { credentialId: CREDENTIAL, step } }],
    result: null,
  }),
});

const replay = (events: readonly Envelope[]) => {
  const rm = openReadModel(':memory:', projections);
  const projector = createProjector(rm);
  for (const e of events) projector.transaction(() => projector.offer(e));
  const out = {
    digest: digest(rm.reader),
    step: (
      rm.reader.prepare('SELECT last_step FROM otp_credentials WHERE id = ?').get(CREDENTIAL) as
        | { last_step: number }
        | undefined
    )?.last_step,
    buffered: projector.buffered,
  };
  rm.close();
  return out;
};

describe('OTP used-step register', () => {
  it('maxUpdate: any order, any duplication, one value (the maximum)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 2 ** 40 }), { minLength: 1, maxLength: 30 }), (xs) => {
        const db = new Database(':memory:');
        db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)');
        db.prepare("INSERT INTO t VALUES ('a', NULL)").run();
        for (const x of [...xs, ...xs.slice(0, 3)].reverse()) {
          const s = maxUpdate('t', { id: 'a' }, 'v', x);
          db.prepare(s.sql).run(...s.params);
        }
        const v = (db.prepare('SELECT v FROM t').get() as { v: number }).v;
        db.close();
        assert.equal(v, Math.max(...xs));
      }),
    );
  });

  const nodes: AuthlogNode[] = [];
  before(async () => {
    for (const id of ['a', 'b', 'c']) nodes.push(await startMemoryNode(`reg-${id}`));
    const [a] = nodes as [AuthlogNode];
    const keys = keyringFrom({ k1: randomBytes(32).toString('base64') });
    const seed = randomBytes(20);
    const system = { actor: 'system' };
    await a.execute(
      registerPrincipal({ principalId: 'pia', kind: 'person', briefName: 'Pia' }),
      system,
    );
    await a.execute(
      enrollOtp({
        credentialId: CREDENTIAL,
        principalId: 'pia',
        kind: 'hotp',
        name: 'key',
        digits: 6,
        algorithm: 'sha1',
        period: null,
        counter: 0,
        seed: encryptSeed(keys, CREDENTIAL, seed),
      }),
      system,
    );
    await a.execute(
      confirmOtp(keys, { credentialId: CREDENTIAL, code: oathHotp(seedToBase32(seed), 0) }),
      system,
    );
    for (const n of nodes.slice(1)) await pull(a, n);
  });
  after(async () => {
    for (const n of nodes.splice(0)) await stopNode(n);
  });

  it(`concurrent uses at three sites, any delivery order: one digest, the highest step (${RUNS} runs)`, async () => {
    let highest = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 1000 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }))),
        fc.integer(),
        async (uses, exchanges, seed) => {
          for (const [site, step] of uses) {
            await nodes[site]!.execute(used(step), { actor: 'system' });
            highest = Math.max(highest, step);
          }
          for (const [from, to] of exchanges) if (from !== to) await pull(nodes[from]!, nodes[to]!);
          // Heal: everyone gets everything.
          for (const from of nodes) for (const to of nodes) if (from !== to) await pull(from, to);
          const digests = nodes.map((n) => n.digest());
          assert.equal(new Set(digests).size, 1, 'sites with the same events disagree');

          const events = (
            await nodes[0]!.store.readAll({ streamPrefix: ORIGIN_STREAM_PREFIX, maxCount: 100_000 })
          ).map((r) => fromRecorded(r));
          let state = seed;
          const rand = () => {
            state = (Math.imul(state, 1103515245) + 12345) | 0;
            return (state >>> 0) / 2 ** 32;
          };
          const mixed = [...events, ...events.filter(() => rand() < 0.3)];
          for (let i = mixed.length - 1; i > 0; i--) {
            const j = Math.floor(rand() * (i + 1));
            [mixed[i], mixed[j]] = [mixed[j]!, mixed[i]!];
          }
          const r = replay(mixed);
          assert.equal(r.buffered, 0);
          assert.equal(r.digest, digests[0], 'a fresh read model fed any order disagrees');
          assert.equal(Number(r.step), highest);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
