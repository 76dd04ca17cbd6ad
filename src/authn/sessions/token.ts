// Session tokens: 256 random bits (`als_…`), shown to the client only; events carry their SHA-256
// (OWASP ASVS 3.2.2, 3.5.2; NIST SP 800-63B 7.1.1). A new token at every evidence change and
// elevation, so a token fixed before login is worth nothing after it (ASVS 3.2.1).
import { randomBytes } from 'node:crypto';
import type { EventPayload } from '../../events/catalogue.ts';
import { hashSecret } from '../tokens.ts';

export const SESSION_PREFIX = 'als_';
export type Transport = EventPayload<'SessionStarted'>['transport'];

/** A new session token; only its hash goes into events. */
export const newSessionToken = (): { token: string; hash: string } => {
  const token = `${SESSION_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashSecret(token) };
};
