// Files of the data folder that hold secrets or identity: created once, at mode 0600, never
// overwritten by accident (`wx`).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Creates `path` with `value` at mode 0600; fails if it exists. */
export const writeNew = (path: string, value: string): void =>
  writeFileSync(path, value, { mode: 0o600, flag: 'wx' });

/** The file's text, trimmed; created from `make()` first when it does not exist. */
export const readOrCreate = (path: string, make: () => string): string => {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = make();
  writeNew(path, `${value}\n`);
  return value;
};
