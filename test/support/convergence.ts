// The harness the convergence property tests share: random histories (commands at one of three
// origins, partial syncs) and their playing, a full heal, and a fresh read model fed the union of events in a
// shuffled order with duplicates.
import fc from 'fast-check';
import { projections } from '../../projections/index.ts';
import type { VersionVector } from '../../src/clock/version-vector.ts';
import { AppError } from '../../src/errors.ts';
import type { Envelope } from '../../src/events/envelope.ts';
import type { Command } from '../../src/node/command.ts';
import type { AuthlogNode } from '../../src/node/node.ts';
import { openReadModel } from '../../src/readmodel/database.ts';
import { digest } from '../../src/readmodel/digest.ts';
import { createProjector } from '../../src/readmodel/projector.ts';
import { pull } from './in-process.ts';

export type Step =
  | { kind: 'cmd'; at: number; op: number; a: number; b: number }
  | { kind: 'sync'; from: number; to: number };

/** A command (`op` in 0..ops, arguments in 0..values) at one of three origins, or a one-way sync. */
export const historyStep = (ops: number, values: number): fc.Arbitrary<Step> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('cmd' as const),
        at: fc.nat(2),
        op: fc.nat(ops),
        a: fc.nat(values),
        b: fc.nat(values),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }),
    },
  );

export type Planned = {
  readonly command: Command<unknown>;
  readonly meta: Parameters<AuthlogNode['execute']>[1];
};

/** Plays a history: a sync pulls one way; a command runs at its node as `plan` says (nothing
 * when it returns undefined). Refusals (AppError) are part of any history. `beforeStep` runs
 * ahead of every step, syncs included (a test's clock). */
export const playHistory = async (
  nodes: readonly AuthlogNode[],
  steps: readonly Step[],
  plan: (node: AuthlogNode, step: Extract<Step, { kind: 'cmd' }>) => Planned | undefined,
  beforeStep?: () => void,
): Promise<void> => {
  for (const s of steps) {
    beforeStep?.();
    if (s.kind === 'sync') {
      if (s.from !== s.to) await pull(nodes[s.from]!, nodes[s.to]!);
      continue;
    }
    const node = nodes[s.at]!;
    const planned = plan(node, s);
    if (!planned) continue;
    try {
      await node.execute(planned.command, planned.meta);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
    }
  }
};

/** Two rounds of a full mesh reach every node with every event. */
export const healAll = async (nodes: readonly AuthlogNode[]): Promise<void> => {
  for (let round = 0; round < 2; round++)
    for (const from of nodes) for (const to of nodes) if (from !== to) await pull(from, to);
};

/** `events` plus `duplicates` copies of events drawn at random, in an order drawn from `seed`. */
export const shuffledWithDuplicates = (
  events: readonly Envelope[],
  seed: number,
  duplicates = 3,
): Envelope[] => {
  let x = seed;
  const rand = () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x7fffffff;
  };
  const out = [...events];
  for (let k = 0; k < duplicates && events.length > 0; k++)
    out.push(events[Math.floor(rand() * events.length)]!);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

/** Projects `events` into a fresh in-memory read model in the given order, one transaction each. */
export const replay = (
  events: readonly Envelope[],
): { digest: string; applied: VersionVector; buffered: number } => {
  const rm = openReadModel(':memory:', projections);
  try {
    const projector = createProjector(rm);
    // As a rebuild does (src/node/rebuild.ts): every revocation and removal known first, so an
    // event they make inert is inert whatever the order (projections/inert.ts).
    projector.transaction(() => {
      for (const e of events) projector.foresee(e);
    });
    for (const e of events) projector.transaction(() => projector.offer(e));
    projector.transaction(() => projector.endForesight());
    return {
      digest: digest(rm.reader),
      applied: { ...projector.applied },
      buffered: projector.buffered,
    };
  } finally {
    rm.close();
  }
};
