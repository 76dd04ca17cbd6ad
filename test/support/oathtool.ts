// Codes from OATH Toolkit's `oathtool` (Debian package `oathtool`; .ci/run installs it), an
// implementation independent of ours: a test that checks our verification against these codes
// cannot pass by agreeing with itself. Where oathtool is not installed (a machine with only
// Node.js and npm), the `otpauth` package computes them: its own HOTP/TOTP code over node's HMAC,
// sharing nothing with otplib, which authlog uses. Never our own code path. The first code a test
// file asks for prints which oracle ran.
import { execFileSync } from 'node:child_process';
import { HOTP, Secret, TOTP } from 'otpauth';

export const hasOathtool = (): boolean => {
  try {
    execFileSync('oathtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const useOathtool = hasOathtool();

/** Which independent implementation computes the codes. */
export const otpOracle = useOathtool
  ? 'oathtool (OATH Toolkit)'
  : 'otpauth (npm; oathtool is not installed)';

let announced = false;
const announce = () => {
  if (announced) return;
  announced = true;
  console.log(`OTP oracle: ${otpOracle}`);
};

type Options = { digits?: 6 | 8; algorithm?: 'sha1' | 'sha256' | 'sha512' };

const otpauthOptions = (base32: string, o: Options) => ({
  secret: Secret.fromBase32(base32.replace(/[\s=]/g, '').toUpperCase()),
  digits: o.digits ?? 6,
  algorithm: (o.algorithm ?? 'sha1').toUpperCase(),
});

/** The TOTP code at `atMs` (ms since epoch) for a base32 seed. */
export const oathTotp = (
  base32: string,
  atMs: number,
  o: Options & { period?: number } = {},
): string => {
  announce();
  if (!useOathtool)
    return new TOTP({ ...otpauthOptions(base32, o), period: o.period ?? 30 }).generate({
      timestamp: atMs,
    });
  return execFileSync(
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
};

/** The HOTP code for counter value `counter`. */
export const oathHotp = (base32: string, counter: number, o: Options = {}): string => {
  announce();
  if (!useOathtool) return new HOTP(otpauthOptions(base32, o)).generate({ counter });
  return execFileSync(
    'oathtool',
    ['--hotp', '-d', String(o.digits ?? 6), '-c', String(counter), '--base32', base32],
    { encoding: 'utf8' },
  ).trim();
};

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
