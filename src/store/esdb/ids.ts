// Event ids: authlog makes ULIDs, EventStoreDB stores UUIDs. Both are 128 bits, so the mapping is
// a change of spelling, not a hash: the ULID's bits become the UUID's bits and come back
// unchanged. The UUID keeps no version or variant bits (the server does not look at them), and
// ordering is kept too: the UUID of a later ULID sorts after it as a hex string.

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DECODE = new Map([...CROCKFORD].map((c, i) => [c, BigInt(i)]));

/** A canonical ULID: 26 upper-case Crockford base32 characters, at most 128 bits. */
export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUlid = (id: string): boolean => ULID_PATTERN.test(id);

export const ulidToUuid = (ulid: string): string => {
  if (!isUlid(ulid))
    throw new TypeError(`event id ${JSON.stringify(ulid)} is not a canonical ULID`);
  let value = 0n;
  for (const c of ulid) value = (value << 5n) | DECODE.get(c)!;
  const hex = value.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

export const uuidToUlid = (uuid: string): string => {
  if (!UUID_PATTERN.test(uuid)) throw new TypeError(`${JSON.stringify(uuid)} is not a UUID`);
  let value = BigInt(`0x${uuid.replaceAll('-', '')}`);
  let out = '';
  for (let i = 0; i < 26; i++) {
    out = CROCKFORD[Number(value & 31n)]! + out;
    value >>= 5n;
  }
  return out;
};
