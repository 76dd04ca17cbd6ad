// Upcasting: events are immutable, so when a payload's shape changes, events written in the old
// shape stay in the log and are transformed on read, before validation and projection. Per event
// type, one function per old schema version takes the payload one version up; reading applies
// them in turn until the payload is at CURRENT_SCHEMA. Upcasters must be pure and deterministic
// (every node upcasts the same stored bytes to the same payload: the read model is in the digest).
//
// To change a payload: bump CURRENT_SCHEMA, add `{ [oldVersion]: (data) => newData }` for every
// type whose shape changed (types that did not change need nothing), and a test that replays a
// log holding the old shape.
import type { JsonObject, JsonValue } from '../store/port.ts';
import { CURRENT_SCHEMA } from './catalogue.ts';
import { skeletonOfCarriedKey } from './skeleton.ts';

type Upcaster = (data: JsonObject) => JsonObject;

const text = (v: JsonValue | undefined): string => (typeof v === 'string' ? v.trim() : '');
const orNull = (v: JsonValue | undefined): string | null =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : null;

/**
 * Version 0 is the shape imported from Talos: a flat principal with `firstName` / `lastName`,
 * which DESIGN.md section 7 replaced by brief and full name, with personal data in `pii`.
 * The e-mail key is computed here as the origin computes it (NFKC, lower case).
 */
const principalRegisteredV0: Upcaster = (d) => {
  const first = text(d.firstName);
  const last = text(d.lastName);
  const email = orNull(d.email);
  return {
    principalId: d.principalId ?? null,
    kind: d.kind === 'service' ? 'service' : 'person',
    pii: {
      briefName: first || last,
      fullName: [first, last].filter((s) => s !== '').join(' '),
      email,
      emailKey: email === null ? null : email.normalize('NFKC').toLowerCase(),
      phone: orNull(d.phone),
    },
  };
};

/**
 * Version 1 names carry their key (NFKC, case folded) but not its confusable skeleton, the unique
 * claim key since version 2 (src/events/skeleton.ts). The skeleton is computed from the key the
 * origin carried, not from the name, so only NFD and the pinned confusables map are applied here,
 * and a key holding a character this node's Unicode does not know is refused (the node stops
 * with an error naming the event) rather than given a skeleton another node might not compute.
 * Names accepted before version 2 are not checked against its script rules: they stay valid, and
 * a lookalike pair among them becomes a listed conflict like any concurrent claim.
 */
const withSkeleton = (d: JsonObject): JsonObject =>
  typeof d.key === 'string' ? { ...d, skeleton: skeletonOfCarriedKey(d.key) } : d;
const identityAddedV1: Upcaster = (d) => {
  const pii = d.pii;
  if (pii === null || typeof pii !== 'object' || Array.isArray(pii)) return d;
  return { ...d, pii: withSkeleton(pii) };
};

/** `upcasters[type][v]` takes a payload of schema version v to version v + 1. */
export const upcasters: Readonly<Record<string, Readonly<Record<number, Upcaster>>>> = {
  PrincipalRegistered: { 0: principalRegisteredV0 },
  IdentityAdded: { 1: identityAddedV1 },
  IdentityDirectoryDefined: { 1: withSkeleton },
  IdentityDirectoryChanged: { 1: withSkeleton },
};

export class UpcastError extends Error {
  override readonly name = 'UpcastError';
}

/** The payload at CURRENT_SCHEMA. A version newer than this code knows is refused, not guessed. */
export const upcast = (type: string, schema: number, data: JsonObject): JsonObject => {
  if (!Number.isInteger(schema) || schema < 0 || schema > CURRENT_SCHEMA)
    throw new UpcastError(`${type}: schema version ${schema} is unknown to this node`);
  let out = data;
  for (let v = schema; v < CURRENT_SCHEMA; v++) {
    const step = upcasters[type]?.[v];
    // No upcaster for this version: the type's shape did not change in that step.
    if (step) out = step(out);
  }
  return out;
};
