// The confusable skeleton of a name's key (UTS #39 section 4): the unique-claim key of identity and
// identity-directory names. Two names a reader cannot tell apart (`admin`, `аdmin` with a Cyrillic
// а, `adrnin`) have one skeleton, so the second is refused at its origin (409) and, when two sites
// claim them while cut off, the later one is a listed conflict on every node.
//
// skeleton(X) = NFD(map(NFD(X))) with Unicode's confusables.txt as the map. Names compare without
// case (RFC 8265 UsernameCaseMapped: the key is case folded), and confusables.txt maps some
// characters to capitals (`0` → `O`), so the mapped text is lower-cased too and the steps repeat
// until nothing changes (at most a few rounds; the result is a fixed point for every name tested).
//
// A skeleton is for detecting collisions only, never a normalization to look names up or show
// them by (UTS #39 section 4): logins find a name by its key, not its skeleton.
//
// Determinism: the map is pinned by the lockfile (unhomoglyph 1.0.6: confusables.txt 13.0.0), but
// NFD and lower-casing follow the runtime's Unicode version. So the skeleton is computed once, at
// the origin, and carried in the event like every key; a node only computes one for an event when
// it upcasts an event older than skeletons (src/events/upcast.ts), and `skeletonOfCarriedKey`
// refuses to do that for a key holding a character its Unicode does not know (where two Node
// versions could disagree) instead of guessing.
import unhomoglyph from 'unhomoglyph';

const MAX_ROUNDS = 4;

/** The confusable skeleton of a key (NFKC, case folded). */
export const skeletonOf = (key: string): string => {
  let s = key.normalize('NFD');
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = unhomoglyph(s).toLowerCase().normalize('NFD');
    if (next === s) break;
    s = next;
  }
  return s;
};

const UNASSIGNED = /\p{Cn}/u;

export class UnknownCharacterError extends Error {
  override readonly name = 'UnknownCharacterError';
}

/** `skeletonOf` a key another node computed, refused if this runtime lacks any of its characters. */
export const skeletonOfCarriedKey = (key: string): string => {
  const unknown = UNASSIGNED.exec(key);
  if (unknown)
    throw new UnknownCharacterError(
      `U+${unknown[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')} is unassigned in this runtime's Unicode ${process.versions.unicode}: its skeleton could differ from other nodes'`,
    );
  return skeletonOf(key);
};
