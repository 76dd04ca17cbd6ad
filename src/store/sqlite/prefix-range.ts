/**
 * The smallest string above every string that starts with `prefix`, in SQLite's BINARY order
 * (memcmp of UTF-8, which is code point order), or undefined when there is none. Used as
 * `stream >= prefix AND stream < bound`, which keeps the index usable and, unlike LIKE or GLOB,
 * has no wildcard characters to escape. Appending '\uffff' instead would miss names with
 * characters above U+FFFF, which UTF-8 sorts after it.
 */
export const prefixUpperBound = (prefix: string): string | undefined => {
  const codePoints = Array.from(prefix, (char) => char.codePointAt(0) ?? 0);
  while (codePoints.length > 0) {
    const last = codePoints.pop() ?? 0;
    if (last < 0x10ffff) {
      // Surrogate code points cannot be encoded, so the successor of U+D7FF is U+E000.
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return String.fromCodePoint(...codePoints, next);
    }
  }
  return undefined;
};
