// Outgoing mail. There is no mail server in authlog: a message is a JSON file the operator's
// mailer picks up from `<dataDir>/outbox/<ulid>.json` (written to a temporary name, then renamed,
// so a reader never sees half a file; mode 0600 in a 0700 directory: it holds a live token).
// Tokens reach only this file, never logs or events (OWASP ASVS 2.5.1, 7.1.1).
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ulid } from 'ulid';

export type Mail = {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** `verify-email`, `account-exists`, `reset-password`. */
  readonly purpose: string;
  /** The token the text contains, for a mailer that builds its own message (shown once). */
  readonly token?: string;
};

export type Outbox = { send(mail: Mail): Promise<string> };

export const fileOutbox = (dir: string): Outbox => ({
  async send(mail) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const id = ulid();
    const file = join(dir, `${id}.json`);
    const tmp = join(dir, `.${id}.${randomBytes(4).toString('hex')}.tmp`);
    const body = { id, createdAt: new Date().toISOString(), ...mail };
    await writeFile(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(tmp, file);
    return file;
  },
});

/**
 * The notice an address gets when it stops being a principal's email: the old address is a
 * recovery channel, so its owner learns of the change and can react before a reset mail goes
 * elsewhere (OWASP ASVS 5.0 V6.3.7: users are notified of changes to their authentication
 * details; NIST SP 800-63B rev 4 §4.6: notify the subscriber of changes to recovery channels).
 * The new address is not named: this mail may reach someone who should not learn it.
 */
export const emailChangedNotice = (oldAddress: string): Mail => ({
  to: oldAddress,
  purpose: 'email-changed',
  subject: 'The email address of your account was changed',
  text: 'The email address of your authlog account is no longer this one: password resets and notices now go to the new address. If you did not ask for this change, contact your administrator now.',
});
