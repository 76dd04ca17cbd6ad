// Wakes those waiting on the read model: fired by the projector after each commit (the writer's
// batches, catch-up and pullers all commit through it), so a wait resolves on the commit that
// satisfies it instead of polling. A waiter is removed when it resolves, whether by a commit or
// by its timeout, so abandoned waits (a client that never sees its write) leave nothing behind.

export type CommitSignal = {
  /** Called after each read-model commit. */
  fire(): void;
  /** Resolves at the next commit, or after `timeoutMs` (long-polls wait on it). */
  next(timeoutMs: number): Promise<void>;
  /** Resolves true once `holds()` is true — at once, or at the commit that makes it so — and
   * false if it is still false after `timeoutMs`. */
  until(holds: () => boolean, timeoutMs: number): Promise<boolean>;
  /** Waits in progress (for tests: none is left once they resolved). */
  readonly waiting: number;
};

export const createCommitSignal = (): CommitSignal => {
  const listeners = new Set<() => void>();
  const until = (holds: () => boolean, timeoutMs: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (holds()) return resolve(true);
      const settle = (result: boolean) => {
        clearTimeout(timer);
        listeners.delete(check);
        resolve(result);
      };
      const check = () => {
        if (holds()) settle(true);
      };
      const timer = setTimeout(() => settle(holds()), timeoutMs);
      listeners.add(check);
    });
  return {
    fire() {
      for (const listener of [...listeners]) listener();
    },
    next: (timeoutMs) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          listeners.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        listeners.add(done);
      }),
    until,
    get waiting() {
      return listeners.size;
    },
  };
};
