// A benchmark's server in a child process (its own event loop and CPU accounting, as a real
// deployment has), driven by typed messages: `next(type)` waits for the child's next message and
// checks its type; `tell` sends one. BENCH_SERVER_FLAGS (e.g. `--cpu-prof`) go to the child.
import { type ChildProcess, fork } from 'node:child_process';

export type ChildServer<In extends { type: string }, Out> = {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  next<T extends In['type']>(type: T): Promise<Extract<In, { type: T }>>;
  tell(message: Out): void;
};

export const forkServer = <In extends { type: string }, Out>(
  module: URL,
  env: NodeJS.ProcessEnv = process.env,
): ChildServer<In, Out> => {
  const child = fork(module, [], {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? []),
    ],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const waiting: ((m: In) => void)[] = [];
  const inbox: In[] = [];
  child.on('message', (m: In) => {
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  return {
    child,
    exited,
    async next(type) {
      const m =
        inbox.shift() ??
        (await Promise.race([
          new Promise<In>((resolve) => waiting.push(resolve)),
          exited.then((code) => {
            throw new Error(`the server process exited (${code})`);
          }),
        ]));
      if (m.type !== type) throw new Error(`expected ${type} from the server, got ${m.type}`);
      return m as Extract<In, { type: typeof type }>;
    },
    tell: (message) => child.send(message as object),
  };
};
