// Small helpers shared by the benchmark phases: sizes from the environment, a scratch folder
// that is always removed, progress bars on stderr, and timing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';

/** A positive integer from the environment, or the default. */
export const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replaceAll('_', ''));
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  }
  return value;
};

export type Scratch = { readonly dir: string; file(name: string): string; remove(): void };

/** A fresh folder under os.tmpdir() (or BENCH_DIR), removed on remove() and on Ctrl-C. */
export const scratchDir = (): Scratch => {
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'authlog-bench-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = () => {
    remove();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  return {
    dir,
    file: (name) => join(dir, name),
    remove() {
      process.off('SIGINT', onSignal);
      remove();
    },
  };
};

export type Progress = { update(done: number): void; stop(): void };

/** A progress bar on stderr, or a line every 10 s when stderr is not a terminal. The phases
 * are synchronous SQLite work that rarely yields to the event loop, so those lines are written
 * from update() itself, not from a timer. */
export const progress = (label: string, total: number): Progress => {
  if (!process.stderr.isTTY) {
    const started = performance.now();
    let printed = started;
    let done = 0;
    let shown = -1;
    const print = () => {
      printed = performance.now();
      shown = done;
      note(`${label}: ${done}/${total} after ${((printed - started) / 1000).toFixed(0)} s`);
    };
    return {
      update(value) {
        done = value;
        if (performance.now() - printed >= 10_000) print();
      },
      stop: () => {
        if (shown !== done) print();
      },
    };
  }
  const bar = new SingleBar(
    {
      format: `${label.padEnd(28)} {bar} {percentage}% {value}/{total} {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (value) => bar.update(value), stop: () => bar.stop() };
};

export const note = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

export const perSecond = (count: number, ms: number): number => Math.round((count * 1000) / ms);

export const round = (value: number, digits = 2): number => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};

/** Milliseconds on a clock every thread of the process shares (worker threads included). */
export const now = (): number => performance.timeOrigin + performance.now();
