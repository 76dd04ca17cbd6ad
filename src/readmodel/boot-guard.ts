// The live read model is written without fsyncs (synchronous=OFF). That is safe against a crash
// of the process, which loses nothing the operating system was handed, and against nothing
// else: an operating-system crash or a power cut can leave the file torn. Both restart the
// machine, and Linux gives every boot a fresh random id. So the writer marks the file with the
// boot id while it has it open (`<file>-boot`, made durable before the first unsynced write) and
// removes the mark after a synced checkpoint when it closes. A file still marked by another boot
// was open when its machine went down: it is thrown away and rebuilt from the durable log, which
// the read model always can be. Where no boot id can be read, the file keeps SQLite's NORMAL.
//
// Why bother: with NORMAL, each WAL checkpoint fsyncs the read model twice, and those fsyncs
// queue at the disk with the event log's, whose fsync is what an acknowledged write waits for.
// `npm run bench:store` measured durable commands 15-25 % faster without them.
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

/** This boot's id, or undefined where the system has none to read. */
export const currentBootId = (): string | undefined => {
  try {
    const id = readFileSync(BOOT_ID, 'utf8').trim();
    return id === '' ? undefined : id;
  } catch {
    return undefined;
  }
};

export const bootMarkerPath = (path: string): string => `${path}-boot`;

const readMarker = (path: string): string | undefined => {
  try {
    return readFileSync(bootMarkerPath(path), 'utf8').trim();
  } catch {
    return undefined;
  }
};

const fsyncPath = (path: string, flags: string): void => {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
};

/** True when the file at `path` was open for writing when a previous boot of this machine
 * ended, so its unsynced writes may be torn. */
export const tornByReboot = (path: string, bootId: string): boolean => {
  const marked = readMarker(path);
  return marked !== undefined && marked !== bootId;
};

/** Marks `path` as open for unsynced writes in this boot, durably (file and directory). */
export const markOpen = (path: string, bootId: string): void => {
  const marker = bootMarkerPath(path);
  writeFileSync(marker, `${bootId}\n`);
  fsyncPath(marker, 'r');
  fsyncPath(dirname(marker), 'r');
};

/** Removes the mark once the connection is closed, after syncing the file and any WAL left
 * beside it, whatever the closing checkpoint managed. */
export const markClosed = (path: string): void => {
  for (const file of [path, `${path}-wal`]) if (existsSync(file)) fsyncPath(file, 'r');
  rmSync(bootMarkerPath(path), { force: true });
};
