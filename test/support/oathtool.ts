// Codes from OATH Toolkit's `oathtool` (Debian package `oathtool`), an implementation independent
// of ours: a test that checks our verification against these codes cannot pass by agreeing with
// itself.
import { execFileSync } from 'node:child_process';

export const hasOathtool = (): boolean => {
  try {
    execFileSync('oathtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

type Options = { digits?: 6 | 8; algorithm?: 'sha1' | 'sha256' | 'sha512' };

/** The TOTP code at `atMs` (ms since epoch) for a base32 seed. */
export const oathTotp = (base32: string, atMs: number, o: Options & { period?: number } = {}) =>
  execFileSync(
    'oathtool',
    [
      `--totp=${o.algorithm ?? 'sha1'}`,
      '-d',
      String(o.digits ?? 6),
      '-s',
      `${o.period ?? 30}s`,
      '-N',
      `@${Math.floor(atMs / 1000)}`,
      '--base32',
      base32,
    ],
    { encoding: 'utf8' },
  ).trim();

/** The HOTP code for counter value `counter`. */
export const oathHotp = (base32: string, counter: number, o: Options = {}) =>
  execFileSync(
    'oathtool',
    ['--hotp', '-d', String(o.digits ?? 6), '-c', String(counter), '--base32', base32],
    { encoding: 'utf8' },
  ).trim();
