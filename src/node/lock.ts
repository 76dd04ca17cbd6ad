// One process per data folder. The store's expected-revision check already stops two writers of
// one origin from forking the log; the lock turns that late failure into a clear one at start.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class LockedError extends Error {
  override readonly name = 'LockedError';
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export const holderOf = (dataDir: string): number | undefined => {
  try {
    const pid = Number(readFileSync(join(dataDir, 'node.lock'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
};

/** Takes the data folder's lock; returns its release. A lock left by a dead process is taken over. */
export const acquireLock = (dataDir: string): (() => void) => {
  const path = join(dataDir, 'node.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx', mode: 0o600 });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = holderOf(dataDir);
      if (holder !== undefined && holder !== process.pid) {
        throw new LockedError(`${dataDir} is in use by process ${holder}; stop it first`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new LockedError(`could not lock ${dataDir}`);
};
