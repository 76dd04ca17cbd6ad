// An argon2id implementation independent of ours to check our hashes against: the reference
// implementation's CLI (`argon2`, from the Password Hashing Competition winners' repository,
// Debian package argon2; .ci/run installs it) when it is installed, else hash-wasm's argon2id
// (its own WebAssembly build, a code path that shares nothing with the argon2 package we hash
// with). Each writes the standard PHC string, parameters in m,t,p order. Tests print which ran.
import { execFileSync } from 'node:child_process';
import { argon2id } from 'hash-wasm';

export type Argon2Oracle = {
  readonly name: string;
  /** False when this oracle cannot take the salt (a shell argument cannot carry a NUL byte). */
  accepts(salt: Buffer): boolean;
  /** The PHC string of `password` (UTF-8) hashed with argon2id v19, this salt and parameters. */
  encode(
    password: string,
    salt: Buffer,
    params: { m: number; t: number; p: number; hashLength?: number },
  ): Promise<string>;
};

export const hasArgon2Cli = (): boolean => {
  try {
    // The CLI prints its usage and exits 1 without arguments; a missing binary throws ENOENT.
    execFileSync('argon2', ['-h'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
};

const referenceCli: Argon2Oracle = {
  name: 'reference argon2 CLI (Debian package argon2)',
  accepts: (salt) => !salt.includes(0),
  async encode(password, salt, { m, t, p, hashLength = 32 }) {
    const octal = [...salt].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
    // The salt goes to the CLI as raw bytes through bash; `x` keeps a trailing newline byte of
    // the salt from being stripped by $(…).
    const args = ['-id', '-t', t, '-k', m, '-p', p, '-l', hashLength, '-e'].join(' ');
    const script = `salt=$(printf '${octal}x'); salt=\${salt%x}; argon2 "$salt" ${args}`;
    return execFileSync('bash', ['-c', script], { input: password, encoding: 'utf8' }).trim();
  },
};

const hashWasm: Argon2Oracle = {
  name: 'hash-wasm argon2id (npm; the argon2 CLI is not installed)',
  accepts: () => true,
  encode: (password, salt, { m, t, p, hashLength = 32 }) =>
    argon2id({
      password,
      salt,
      memorySize: m,
      iterations: t,
      parallelism: p,
      hashLength,
      outputType: 'encoded',
    }),
};

/** The reference CLI when installed, else hash-wasm. */
export const argon2Oracle = (): Argon2Oracle => (hasArgon2Cli() ? referenceCli : hashWasm);

/** The same hash written the way argon2 0.45.1 (and so older authlog) wrote it: m,p,t order. */
export const oldOrder = (phc: string): string =>
  phc.replace(/\$m=(\d+),t=(\d+),p=(\d+)\$/, '$$m=$1,p=$3,t=$2$$');
