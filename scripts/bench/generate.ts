// A realistic event log written straight into a store, bypassing commands so that a million
// events take seconds, not an hour. Three origins take turns appending runs of events to their
// own streams with exact expected revisions. Every event's deps cover what its origin could have
// applied (all runs appended before it), and HLCs grow with the global order, so the log is
// causally consistent and a rebuild applies every event on arrival, as it would on a real node.
// Payloads are checked against the catalogue before they are stored. Each origin signs and chains
// its events with its test key (test/support/keys.ts), as a node would: rebuilds check them
// against LOG_FOUNDERS.
import { monotonicFactory } from 'ulid';
import { INTERNAL_DIRECTORY } from '../../projections/identities.ts';
import { encodeHlc } from '../../src/clock/hlc.ts';
import { CURRENT_SCHEMA, type DomainEvent } from '../../src/events/catalogue.ts';
import {
  type Envelope,
  type EventMeta,
  fromRecorded,
  originStream,
  SYSTEM_ACTOR,
  toEventData,
} from '../../src/events/envelope.ts';
import { claimedName } from '../../src/events/normalize.ts';
import { sealEvent } from '../../src/events/signature.ts';
import type { EventData, EventStore } from '../../src/store/port.ts';
import { testFounders, testKey } from '../../test/support/keys.ts';

export const ORIGINS = ['node-a', 'node-b', 'node-c'] as const;

/** The keys the generated log is signed with: every origin a founder with its test key. */
export const LOG_FOUNDERS = testFounders;

export type LogStats = { readonly events: number; readonly byType: Record<string, number> };

export type GenerateOptions = {
  readonly store: EventStore;
  readonly events: number;
  readonly seed?: number;
  readonly onProgress?: (events: number) => void;
};

// Deterministic, so two runs with the same size produce the same log (mulberry32).
const prng = (seed: number) => {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const FIRST = ['Ada', 'Alan', 'Grace', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Niklaus', 'Zoë'];
const LAST = ['Lovelace', 'Turing', 'Hopper', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Wirth'];
const REASONS = ['left the company', 'suspicious sign-ins', 'on leave', ''];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'authlog-cli/0.1.0',
];
// Share of each kind of change, per 100 events (activation toggles: deactivate or activate).
const MIX = [
  ['register', 40],
  ['addIdentity', 25],
  ['changeProfile', 20],
  ['toggleActive', 10],
  ['removeIdentity', 5],
] as const;
type Change = (typeof MIX)[number][0];

type Principal = { readonly id: string; active: boolean };

export const generateLog = async (options: GenerateOptions): Promise<LogStats> => {
  const { store, events: total } = options;
  const random = prng(options.seed ?? 42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const newId = monotonicFactory(random);
  const principals: Principal[] = [];
  const liveIdentities: string[] = [];
  // Deactivated principals; entries whose principal was activated since are skipped.
  const inactive: Principal[] = [];
  const seqs: Record<string, bigint> = Object.fromEntries(ORIGINS.map((o) => [o, 0n]));
  const chainHeads: Record<string, string> = {};
  const byType: Record<string, number> = {};
  let counter = 0;
  let written = 0;
  // One virtual year: the log starts on 2025-01-01 and every event is 31 ms after the previous.
  const startMs = Date.UTC(2025, 0, 1);

  const change = (): Change => {
    let roll = random() * 100;
    for (const [kind, share] of MIX) {
      roll -= share;
      if (roll < 0) return kind;
    }
    return 'register';
  };

  const takeInactive = (): Principal | undefined => {
    while (inactive.length > 0) {
      const index = Math.floor(random() * inactive.length);
      const p = inactive[index]!;
      inactive[index] = inactive[inactive.length - 1]!;
      inactive.pop();
      if (!p.active) return p;
    }
    return undefined;
  };

  const contact = (n: number) => {
    const first = pick(FIRST);
    const last = pick(LAST);
    const email = `${first}.${last}.${n}@Example.org`;
    return { first, last, email, emailKey: email.normalize('NFKC').toLowerCase() };
  };

  const decide = (origin: string): DomainEvent => {
    counter += 1;
    let kind = change();
    if (principals.length === 0) kind = 'register';
    if (kind === 'removeIdentity' && liveIdentities.length === 0) kind = 'addIdentity';
    switch (kind) {
      case 'register': {
        const service = random() < 0.1;
        const c = contact(counter);
        const id = `${origin}.p${counter.toString(36)}`;
        principals.push({ id, active: true });
        return {
          type: 'PrincipalRegistered',
          data: {
            principalId: id,
            kind: service ? 'service' : 'person',
            pii: {
              briefName: service ? `svc-${counter}` : c.first,
              fullName: service ? `Service ${counter}` : `${c.first} ${c.last}`,
              email: service ? null : c.email,
              emailKey: service ? null : c.emailKey,
              phone: random() < 0.5 ? `+4144${String(counter).padStart(7, '0')}` : null,
            },
          },
        };
      }
      case 'addIdentity': {
        const owner = pick(principals);
        const id = `${origin}.i${counter.toString(36)}`;
        liveIdentities.push(id);
        const { name, key, skeleton } = claimedName('name', `${pick(FIRST)}.${counter}`);
        return {
          type: 'IdentityAdded',
          data: {
            identityId: id,
            directoryId: INTERNAL_DIRECTORY,
            principalId: owner.id,
            pii: { name, key, skeleton },
          },
        };
      }
      case 'changeProfile': {
        const p = pick(principals);
        const c = contact(counter);
        const roll = random();
        const pii =
          roll < 0.4
            ? { briefName: c.first }
            : roll < 0.6
              ? { fullName: `${c.first} ${c.last}` }
              : roll < 0.8
                ? { phone: `+4143${String(counter).padStart(7, '0')}` }
                : { email: c.email, emailKey: c.emailKey };
        return { type: 'PrincipalProfileChanged', data: { principalId: p.id, pii } };
      }
      case 'toggleActive': {
        // Half of the toggles bring a deactivated principal back, so both kinds occur.
        const back = random() < 0.5 ? takeInactive() : undefined;
        const p = back ?? pick(principals);
        p.active = !p.active;
        if (!p.active) inactive.push(p);
        return p.active
          ? { type: 'PrincipalActivated', data: { principalId: p.id } }
          : { type: 'PrincipalDeactivated', data: { principalId: p.id, reason: pick(REASONS) } };
      }
      case 'removeIdentity': {
        const index = Math.floor(random() * liveIdentities.length);
        const id = liveIdentities[index]!;
        liveIdentities[index] = liveIdentities[liveIdentities.length - 1]!;
        liveIdentities.pop();
        return { type: 'IdentityRemoved', data: { identityId: id } };
      }
    }
  };

  const wrap = (event: DomainEvent, origin: string, deps: Record<string, bigint>): Envelope => {
    const seq = seqs[origin]! + 1n;
    seqs[origin] = seq;
    const wallMs = startMs + written * 31;
    const fromUser = random() < 0.7 && principals.length > 0;
    const meta: EventMeta = fromUser
      ? {
          actor: pick(principals).id,
          via: `ses_${newId(wallMs)}`,
          correlationId: newId(wallMs),
          ip: `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`,
          userAgent: pick(AGENTS),
        }
      : { actor: SYSTEM_ACTOR };
    const envelope: Omit<Envelope, 'type' | 'data'> = {
      ...meta,
      id: newId(wallMs),
      origin,
      seq,
      hlc: encodeHlc({ wall: wallMs, counter: 0, node: origin }),
      deps: { ...deps, [origin]: seq - 1n },
      schema: CURRENT_SCHEMA,
      ...(chainHeads[origin] !== undefined ? { prev: chainHeads[origin] } : {}),
    };
    return { ...event, ...envelope };
  };

  for (let run = 0; written < total; run++) {
    const origin = ORIGINS[run % ORIGINS.length]!;
    // What this origin had applied: every run stored so far (its own events join as it goes).
    const deps = { ...seqs };
    const firstSeq = seqs[origin]! + 1n;
    const size = Math.min(total - written, 200 + Math.floor(random() * 1600));
    const batch: EventData[] = [];
    for (let i = 0; i < size; i++) {
      const sealed = sealEvent(testKey(origin), toEventData(wrap(decide(origin), origin, deps)));
      chainHeads[origin] = sealed.hash;
      const data = sealed.data;
      fromRecorded(data, true); // throws MalformedEventError on a payload the catalogue refuses
      byType[data.type] = (byType[data.type] ?? 0) + 1;
      batch.push(data);
      written += 1;
    }
    await store.append(originStream(origin), batch, {
      expectedRevision: firstSeq === 1n ? 'no_stream' : firstSeq - 2n,
    });
    options.onProgress?.(written);
  }
  return { events: written, byType };
};
