// OTP seeds at rest. Every site must verify codes, so a seed cannot be hashed like a password: it
// is encrypted with AES-256-GCM under a key from configuration (AUTHLOG_TOTP_KEYS) and only the
// key id, IV, ciphertext and tag reach the event (DESIGN.md section 2; NIST SP 800-63B 5.1.4.2:
// symmetric keys SHALL be protected against disclosure; OWASP ASVS 6.2.1/6.4.1). The credential id
// is the additional authenticated data, so a ciphertext cannot be moved to another credential.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type EncryptedSeed = {
  readonly keyId: string;
  /** base64 of the 12-byte IV. */
  readonly iv: string;
  /** base64 of the encrypted seed (the raw secret bytes, not its base32 text). */
  readonly ciphertext: string;
  /** base64 of the 16-byte GCM authentication tag. */
  readonly tag: string;
};

/** Keys by id; the first entry encrypts new seeds, every entry decrypts (rotation). */
export type Keyring = {
  readonly current: string;
  readonly keys: ReadonlyMap<string, Buffer>;
};

export const keyringFrom = (keys: Readonly<Record<string, string>>): Keyring => {
  const entries = Object.entries(keys).map(
    ([id, b64]) => [id, Buffer.from(b64, 'base64')] as const,
  );
  const first = entries[0];
  if (!first) throw new Error('no OTP seed key configured (AUTHLOG_TOTP_KEYS)');
  for (const [id, key] of entries)
    if (key.length !== 32) throw new Error(`OTP seed key ${id} is not 32 bytes`);
  return { current: first[0], keys: new Map(entries) };
};

const ALGORITHM = 'aes-256-gcm';

export const encryptSeed = (
  keyring: Keyring,
  credentialId: string,
  seed: Buffer,
): EncryptedSeed => {
  const key = keyring.keys.get(keyring.current);
  if (!key) throw new Error('the current OTP seed key is missing');
  // A random 96-bit IV per seed (NIST SP 800-38D 8.2.2); seeds are few, far below the 2^32 limit.
  const iv = randomBytes(12);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(Buffer.from(credentialId, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(seed), cipher.final()]);
  return {
    keyId: keyring.current,
    iv: iv.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
  };
};

/**
 * The seed, or undefined when it cannot be trusted: unknown key id, wrong sizes, or a ciphertext,
 * tag, IV or credential id that does not authenticate (tampering, or the wrong key).
 */
export const decryptSeed = (
  keyring: Keyring,
  credentialId: string,
  sealed: EncryptedSeed,
): Buffer | undefined => {
  const key = keyring.keys.get(sealed.keyId);
  if (!key) return undefined;
  const iv = Buffer.from(sealed.iv, 'base64');
  const tag = Buffer.from(sealed.tag, 'base64');
  if (iv.length !== 12 || tag.length !== 16) return undefined;
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(credentialId, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([
      decipher.update(Buffer.from(sealed.ciphertext, 'base64')),
      decipher.final(),
    ]);
  } catch {
    // GCM's only failure here is "unable to authenticate data": the input is not ours.
    return undefined;
  }
};

/** A random key for a node built without configuration (tests, in-process use): seeds sealed
 * with it cannot be opened after the process ends or by any other node. */
export const ephemeralKeyring = (): Keyring =>
  keyringFrom({ ephemeral: randomBytes(32).toString('base64') });
