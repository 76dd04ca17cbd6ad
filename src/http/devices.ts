// Known devices (OWASP "Slow Down Online Guessing Attacks with Device Cookies"; issue 14): an
// attacker without the password must not be able to keep a principal locked out. A client that
// logged in successfully before gets a device token; attempts that present it for that principal
// count against that device only (rate-limit.ts `device:` bucket, lockout.ts device failures) and
// pass a lockout that failures from elsewhere caused. NIST SP 800-63B rev 4 3.2.2 (rate limiting:
// at most 100 consecutive failed attempts on an account, and ways to keep an attacker from
// locking the subscriber out, among them accepting attempts from addresses where the subscriber
// authenticated before); OWASP ASVS 5.0 6.3.1 (brute-force controls), 6.1.1 (documented, and
// preventing malicious account lockout), 6.3.3 (every authentication pathway alike).
//
// - The token is `ald_<nonce>.<expiry>.<HMAC-SHA256(key, principal id, nonce, expiry)>`: bound to
//   one principal (another principal's token verifies as nothing), tamper-proof, and checked
//   without storage, so every node of the cluster verifies it. The key is derived (HKDF) from the
//   OTP seed keys (AUTHLOG_TOTP_KEYS), the one secret every node must share anyway (each decrypts
//   the seeds other sites sealed); the first key signs, every key listed verifies (rotation).
// - Browsers get it as `__Host-authlog-device` (HttpOnly, Secure, SameSite=Strict) at every
//   successful login; applications logging in with `transport: bearer` get it once in the body
//   (`deviceToken`) and send it back as `Authlog-Device: <token>` (login, Basic).
// - Basic clients keep no cookies: an address from which the principal authenticated with Basic
//   before (IPv4 /32, IPv6 /64, the rate-limit granularity) is a known device for it, on this
//   node, for DEVICE_TTL_S. Node-local memory: forgotten at restart and not shared between nodes;
//   a Basic client that sends `Authlog-Device` is known everywhere.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DeviceTrust } from '../authn/flows/ports.ts';
import { clientKey } from '../authn/net.ts';
import type { Keyring } from '../authn/seed-crypto.ts';
import { hostCookie, setHostCookie } from './cookies.ts';
import { clientIp } from './proxy.ts';

export const DEVICE_COOKIE = 'authlog-device';
export const DEVICE_HEADER = 'authlog-device';
/** How long a device stays known after its last successful login (90 days). */
export const DEVICE_TTL_S = 90 * 86400;

const TOKEN = /^ald_([A-Za-z0-9_-]{22})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;
/** Addresses remembered per principal, and principals remembered, at most (oldest go first). */
const ADDRESSES_PER_PRINCIPAL = 16;
const PRINCIPALS = 50_000;

export type Devices = {
  /** A new device token for `principalId`. */
  issue(principalId: string, now?: number): string;
  /** The device id (the token's nonce) when `token` is a live token of `principalId`. */
  verify(token: string, principalId: string, now?: number): string | undefined;
  /** The device the request presents for `principalId` (cookie, or the header), verified. */
  presented(request: FastifyRequest, principalId: string): string | undefined;
  /** `ip:<client>` when the request comes from an address where `principalId` used Basic. */
  knownAddress(request: FastifyRequest, principalId: string): string | undefined;
  /** Remembers the request's address as a known Basic client of `principalId`. */
  rememberAddress(request: FastifyRequest, principalId: string): void;
  /** Hands a device token to the client: the cookie, or `{ deviceToken }` for the body. */
  deliver(
    reply: FastifyReply,
    token: string,
    transport: 'cookie' | 'bearer',
  ): { deviceToken?: string };
  /** The device trust a flow takes (src/authn/flows/ports.ts) for one request; with
   * `addresses`, an address where the principal used Basic is a known device too. */
  trustOf(request: FastifyRequest, options?: { addresses?: boolean }): DeviceTrust;
};

declare module 'fastify' {
  interface FastifyInstance {
    devices: Devices;
  }
}

/** The signing keys, derived from the OTP seed keys; the first signs. */
export const deviceKeys = (keyring: Keyring): Buffer[] => {
  const ids = [keyring.current, ...[...keyring.keys.keys()].filter((id) => id !== keyring.current)];
  return ids.map((id) =>
    Buffer.from(
      hkdfSync('sha256', keyring.keys.get(id) ?? '', 'authlog', 'authlog device token key v1', 32),
    ),
  );
};

const sign = (key: Buffer, principalId: string, nonce: string, expiry: string): string =>
  createHmac('sha256', key)
    .update(`device\0${principalId}\0${nonce}\0${expiry}`)
    .digest('base64url');

export const createDevices = (keys: readonly Buffer[], clock: () => number = Date.now): Devices => {
  const signing = keys[0];
  if (!signing) throw new Error('no device token key');
  // principal → (client key → last success, ms); Maps keep insertion order, so the first entry
  // is the one used longest ago.
  const addresses = new Map<string, Map<string, number>>();

  const issue = (principalId: string, now = clock()) => {
    const nonce = randomBytes(16).toString('base64url');
    const expiry = String(Math.floor(now / 1000) + DEVICE_TTL_S);
    return `ald_${nonce}.${expiry}.${sign(signing, principalId, nonce, expiry)}`;
  };

  const verify = (token: string, principalId: string, now = clock()) => {
    const m = TOKEN.exec(token);
    if (!m) return undefined;
    const [, nonce = '', expiry = '', mac = ''] = m;
    if (Number(expiry) * 1000 <= now) return undefined;
    const sent = Buffer.from(mac, 'base64url');
    const ok = keys.some((key) => {
      const expected = Buffer.from(sign(key, principalId, nonce, expiry), 'base64url');
      return expected.length === sent.length && timingSafeEqual(expected, sent);
    });
    return ok ? nonce : undefined;
  };

  const presented = (request: FastifyRequest, principalId: string) => {
    const header = request.headers[DEVICE_HEADER];
    const fromHeader = typeof header === 'string' ? verify(header, principalId) : undefined;
    if (fromHeader !== undefined) return fromHeader;
    const cookie = hostCookie(request, DEVICE_COOKIE);
    return cookie === undefined ? undefined : verify(cookie, principalId);
  };

  const knownAddress = (request: FastifyRequest, principalId: string) => {
    const client = clientKey(clientIp(request));
    if (client.startsWith('unknown:')) return undefined;
    const at = addresses.get(principalId)?.get(client);
    return at !== undefined && clock() - at < DEVICE_TTL_S * 1000 ? `ip:${client}` : undefined;
  };

  const rememberAddress = (request: FastifyRequest, principalId: string) => {
    const client = clientKey(clientIp(request));
    if (client.startsWith('unknown:')) return;
    let known = addresses.get(principalId);
    if (known) addresses.delete(principalId);
    else {
      known = new Map();
      if (addresses.size >= PRINCIPALS) addresses.delete(addresses.keys().next().value ?? '');
    }
    addresses.set(principalId, known);
    known.delete(client);
    known.set(client, clock());
    if (known.size > ADDRESSES_PER_PRINCIPAL) known.delete(known.keys().next().value ?? '');
  };

  const deliver = (reply: FastifyReply, token: string, transport: 'cookie' | 'bearer') => {
    if (transport === 'bearer') return { deviceToken: token };
    setHostCookie(reply, DEVICE_COOKIE, token, { maxAgeSeconds: DEVICE_TTL_S });
    return {};
  };

  const trustOf = (request: FastifyRequest, options: { addresses?: boolean } = {}) => ({
    of: (principalId: string) =>
      presented(request, principalId) ??
      (options.addresses ? knownAddress(request, principalId) : undefined),
    issue: (principalId: string) => issue(principalId),
    remember: (principalId: string) => rememberAddress(request, principalId),
  });

  return { issue, verify, presented, knownAddress, rememberAddress, deliver, trustOf };
};

export const registerDevices = (app: FastifyInstance, keyring: Keyring): void => {
  app.decorate('devices', createDevices(deviceKeys(keyring)));
};
