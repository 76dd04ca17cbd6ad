// Passkey settings of a deployment (AUTHLOG_WEBAUTHN_*): the relying party every site serves
// (W3C WebAuthn Level 3 section 5.1.4.1: a credential is scoped to its RP ID, so every site must
// serve the same one for a passkey made at one site to work at another: docs/passkeys.md), the
// origins whose pages may run ceremonies, an optional allow-list of authenticator models, and how
// long a ceremony lasts. Read once at start; a wrong value refuses to start (src/boot/config.ts).
import { parseDuration } from './auth-config.ts';

export type WebAuthnConfig = {
  /** The RP ID (L3 5.1.4.1): a domain, the origins' own or a registrable suffix of it. */
  readonly rpId: string;
  /** What authenticators show next to the account (L3 5.4.1 `rp.name`). */
  readonly rpName: string;
  /** Exact origins (scheme, host, port) the client data may name (L3 7.1 step 9, 7.2 step 13). */
  readonly origins: readonly string[];
  /** Authenticator models (AAGUIDs, lowercase) allowed to register; null: any. */
  readonly aaguids: readonly string[] | null;
  /** How long a ceremony's challenge lasts, and what the options ask the client to wait. */
  readonly timeoutMs: number;
};

/** Two minutes: long enough to find a security key and touch it, short enough that a challenge
 * lying around is soon worthless (L3 13.4.3 recommends 300 s at most, with UV 120 s). */
export const DEFAULT_CEREMONY_TIMEOUT_MS = 120_000;

/** What a node without settings uses in development, and tests: http://localhost. */
export const developmentWebAuthn = (port = 8080): WebAuthnConfig => ({
  rpId: 'localhost',
  rpName: 'authlog',
  origins: [`http://localhost:${port}`],
  aaguids: null,
  timeoutMs: DEFAULT_CEREMONY_TIMEOUT_MS,
});

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const DOMAIN = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})*$`);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_ORIGINS = 16;

/** Why `raw` is no RP ID, or undefined: a lowercase domain name, not an IP address (L3 5.1.4.1:
 * "a valid domain string"; browsers refuse IP addresses). */
const rpIdProblem = (raw: string): string | undefined => {
  if (!DOMAIN.test(raw) || /^[0-9.]+$/.test(raw))
    return `AUTHLOG_WEBAUTHN_RP_ID must be a lowercase domain name (no scheme, port or path), like example.com, not ${JSON.stringify(raw)}`;
  return undefined;
};

/** Why `raw` is no allowed origin for `rpId`, or undefined: an https origin (http only for
 * localhost, a secure context too) with nothing after the port, whose host is the RP ID or one of
 * its subdomains (L3 13.4.9 validating the origin). */
const originProblem = (raw: string, rpId: string): string | undefined => {
  const bad = (why: string) => `AUTHLOG_WEBAUTHN_ORIGINS: ${JSON.stringify(raw)} ${why}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad('is not a URL');
  }
  if (url.origin !== raw)
    return bad(`must be an origin alone, as browsers send it: ${JSON.stringify(url.origin)}`);
  const host = url.hostname;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && host === 'localhost'))
    return bad('must be https (http only for localhost)');
  if (host !== rpId && !host.endsWith(`.${rpId}`))
    return bad(`is not ${rpId} or a subdomain of it (AUTHLOG_WEBAUTHN_RP_ID)`);
  return undefined;
};

/**
 * The settings, or null when passkeys are off (production without AUTHLOG_WEBAUTHN_RP_ID).
 * Development without settings: RP ID `localhost`, origin http://localhost:<port>. Every problem
 * is pushed to `problems` (see config.ts).
 */
export const parseWebAuthnConfig = (
  get: (name: string) => string | undefined,
  mode: 'development' | 'production',
  port: number,
  problems: string[],
): WebAuthnConfig | null => {
  const rpIdRaw = get('AUTHLOG_WEBAUTHN_RP_ID');
  const originsRaw = get('AUTHLOG_WEBAUTHN_ORIGINS');
  const aaguidsRaw = get('AUTHLOG_WEBAUTHN_AAGUIDS');
  const nameRaw = get('AUTHLOG_WEBAUTHN_RP_NAME');
  const timeoutRaw = get('AUTHLOG_WEBAUTHN_TIMEOUT');
  if (rpIdRaw === undefined || rpIdRaw === '') {
    const others = [
      ['AUTHLOG_WEBAUTHN_ORIGINS', originsRaw],
      ['AUTHLOG_WEBAUTHN_AAGUIDS', aaguidsRaw],
      ['AUTHLOG_WEBAUTHN_RP_NAME', nameRaw],
      ['AUTHLOG_WEBAUTHN_TIMEOUT', timeoutRaw],
    ].filter(([, v]) => v !== undefined && v !== '');
    if (others.length > 0) {
      problems.push(
        `${others.map(([n]) => n).join(', ')} need AUTHLOG_WEBAUTHN_RP_ID (the domain every site serves passkeys for)`,
      );
      return null;
    }
    return mode === 'development' ? developmentWebAuthn(port) : null;
  }
  const rpId = rpIdRaw.trim();
  const idProblem = rpIdProblem(rpId);
  if (idProblem !== undefined) {
    problems.push(idProblem);
    return null;
  }
  const origins = (originsRaw ?? `https://${rpId}`)
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  if (origins.length === 0 || origins.length > MAX_ORIGINS)
    problems.push(`AUTHLOG_WEBAUTHN_ORIGINS must name 1 to ${MAX_ORIGINS} origins`);
  for (const o of origins) {
    const problem = originProblem(o, rpId);
    if (problem !== undefined) problems.push(problem);
  }
  const rpName = (nameRaw ?? 'authlog').trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (rpName.length === 0 || rpName.length > 64 || /[\u0000-\u001f\u007f]/.test(rpName))
    problems.push('AUTHLOG_WEBAUTHN_RP_NAME must be 1 to 64 characters, no control characters');
  let aaguids: string[] | null = null;
  if (aaguidsRaw !== undefined && aaguidsRaw.trim() !== '') {
    aaguids = aaguidsRaw
      .split(',')
      .map((a) => a.trim().toLowerCase())
      .filter((a) => a !== '');
    for (const a of aaguids)
      if (!UUID.test(a))
        problems.push(
          `AUTHLOG_WEBAUTHN_AAGUIDS: ${JSON.stringify(a)} is not an AAGUID (a UUID like cb69481e-8ff7-4039-93ec-0a2729a154a8)`,
        );
  }
  let timeoutMs = DEFAULT_CEREMONY_TIMEOUT_MS;
  if (timeoutRaw !== undefined && timeoutRaw !== '') {
    const seconds = parseDuration(timeoutRaw);
    if (seconds === undefined || seconds < 30 || seconds > 600)
      problems.push('AUTHLOG_WEBAUTHN_TIMEOUT must be a duration from 30s to 10m, like 2m');
    else timeoutMs = seconds * 1000;
  }
  return { rpId, rpName, origins, aaguids, timeoutMs };
};
