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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits, if need be, until the current 30 s time step has at least `marginMs` left, so codes
 * computed now for the previous, current and next step stay inside the verifier's ±1 window
 * while a fast test uses them (alignment with the clock, not a timed assertion).
 */
export const awayFromStepEdge = async (marginMs = 5000, periodMs = 30_000) => {
  const left = periodMs - (Date.now() % periodMs);
  if (left < marginMs) await sleep(left + 50);
};

/**
 * Codes of one TOTP credential for successive uses, for tests slow enough to cross a step
 * boundary: each is for a step above the last one used, chosen as the current step or, when that
 * one is used, the next; either stays in the ±1 window if one boundary passes before the code
 * arrives. Waits for the next step only when both are used.
 */
export const totpSequence = (base32: string, periodMs = 30_000) => {
  let last = Number.NEGATIVE_INFINITY;
  return async (): Promise<string> => {
    for (;;) {
      const now = Date.now();
      const current = Math.floor(now / periodMs);
      const step = Math.max(last + 1, current);
      if (step <= current + 1) {
        last = step;
        return oathTotp(base32, step * periodMs, { period: periodMs / 1000 });
      }
      await sleep(periodMs - (now % periodMs) + 50);
    }
  };
};
