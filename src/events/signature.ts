// Signed, hash-chained events (DESIGN.md section 2). Every event is signed by its origin node's
// Ed25519 key over a canonical encoding of the whole event — id, type, data and every metadata
// field but the signature itself (RFC 8785 JSON canonicalization, so any store or transport that
// keeps the JSON values keeps the bytes), and carries in `prev` the hash of its origin's previous
// event. The hash of an event is SHA-256 of those same bytes, so it covers `prev` and each origin's
// log is a hash chain: changing or dropping one event breaks every later link (as in Certificate
// Transparency's logs, RFC 9162, and Matrix's signed events with their `prev_events` hashes).
//
// Keys and signatures are node:crypto's Ed25519 (RFC 8032); JSON canonicalization is the
// `canonicalize` package (RFC 8785). Nothing here is hand-made cryptography.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { createRequire } from 'node:module';
import type { EventData, JsonObject } from '../store/port.ts';

// A CommonJS package whose typings declare an ES default export: under NodeNext they type the
// namespace, not the function module.exports is. Loaded as what it is.
const canonicalize = createRequire(import.meta.url)('canonicalize') as (
  input: unknown,
) => string | undefined;

/** RFC 8785 canonical JSON of a value: the same text on every node for equal values. */
export const canonicalJson = (value: unknown): string => canonicalize(value) ?? 'null';

/** What is signed and hashed: an event as stored, without its signature. */
export const signingBytes = (e: Pick<EventData, 'id' | 'type' | 'data' | 'metadata'>): Buffer => {
  const { sig: _sig, ...metadata } = e.metadata;
  const text = canonicalize({ id: e.id, type: e.type, data: e.data, metadata });
  if (text === undefined) throw new TypeError(`event ${e.id} has no canonical form`);
  return Buffer.from(text, 'utf8');
};

/** SHA-256 of an event's signing bytes, base64url: what the next event of its origin names in
 * `prev`, and what tells two events with one origin and seq apart. */
export const hashBytes = (bytes: Buffer): string =>
  createHash('sha256').update(bytes).digest('base64url');

export const eventHash = (e: Pick<EventData, 'id' | 'type' | 'data' | 'metadata'>): string =>
  hashBytes(signingBytes(e));

/** A node's signing key and the public half others verify with. */
export type NodeKey = {
  /** The raw 32-byte Ed25519 public key, base64url: how enrollment names it. */
  readonly publicKey: string;
  sign(bytes: Buffer): string;
};

const PUBLIC_KEY = /^[A-Za-z0-9_-]{43}$/;

export const isPublicKey = (s: string): boolean => PUBLIC_KEY.test(s);

/** The public key object for a base64url raw Ed25519 key; throws a TypeError for anything else. */
export const publicKeyObject = (raw: string): KeyObject => {
  if (!isPublicKey(raw)) throw new TypeError('not an Ed25519 public key (43 base64url characters)');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw }, format: 'jwk' });
};

const rawPublic = (key: KeyObject): string => {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return jwk.x;
};

/** Wraps a private key as the node's signer: PKCS#8 PEM, the same DER in base64 on one line (for
 * environment variables), or a KeyObject. */
export const nodeKeyFrom = (privateKey: string | KeyObject): NodeKey => {
  const key =
    typeof privateKey !== 'string'
      ? privateKey
      : privateKey.includes('-----BEGIN')
        ? createPrivateKey(privateKey)
        : createPrivateKey({
            key: Buffer.from(privateKey.trim(), 'base64'),
            format: 'der',
            type: 'pkcs8',
          });
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('the node key must be Ed25519');
  return {
    publicKey: rawPublic(createPublicKey(key)),
    sign: (bytes) => sign(null, bytes, key).toString('base64url'),
  };
};

/** A fresh key: its PKCS#8 PEM and one-line base64 DER (to keep), and the signer. */
export const generateNodeKey = (): { pem: string; line: string; key: NodeKey } => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const line = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
  return { pem, line, key: nodeKeyFrom(privateKey) };
};

export const verifySignature = (publicKey: KeyObject, bytes: Buffer, sig: string): boolean => {
  if (!/^[A-Za-z0-9_-]{86}$/.test(sig)) return false;
  return verify(null, bytes, publicKey, Buffer.from(sig, 'base64url'));
};

/** Signs an event stamped with everything but `sig`: the stored form with `sig` added, and its
 * hash (the next event's `prev`). */
export const sealEvent = (key: NodeKey, e: EventData): { data: EventData; hash: string } => {
  const bytes = signingBytes(e);
  const metadata: JsonObject = { ...e.metadata, sig: key.sign(bytes) };
  return { data: { ...e, metadata }, hash: hashBytes(bytes) };
};
