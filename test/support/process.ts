// Real node processes for end-to-end tests: `authlog serve` as a child process on a loopback
// port of its own, with its own data folder.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'src/cli/main.ts');

export const tempDir = (prefix: string): string =>
  mkdtempSync(join(tmpdir(), `authlog-${prefix}-`));

export type ServerProcess = {
  readonly url: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly token: string;
  /** Everything the process printed on stdout so far. */
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
};

export const startServerProcess = async (options: {
  dataDir: string;
  nodeId?: string;
  env?: Record<string, string>;
  args?: string[];
  timeoutMs?: number;
}): Promise<ServerProcess> => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'serve', '--port', '0', ...(options.args ?? [])],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        AUTHLOG_DATA_DIR: options.dataDir,
        AUTHLOG_LOG_LEVEL: 'warn',
        ...(options.nodeId ? { AUTHLOG_NODE_ID: options.nodeId } : {}),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // 'close' comes after the child's output streams ended: its last words are in `out`/`err`.
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  while (!/^ready: /m.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await closed;
      throw new Error(`server did not start (exit ${child.exitCode}):\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const url = /listening on (http:\/\/\S+),/.exec(out)?.[1];
  if (!url) throw new Error(`no address in output:\n${out}`);
  const token =
    options.env?.AUTHLOG_OPERATOR_TOKEN ??
    (
      JSON.parse(readFileSync(join(options.dataDir, 'secrets.json'), 'utf8')) as {
        operatorToken: string;
      }
    ).operatorToken;
  return {
    url,
    dataDir: options.dataDir,
    child,
    token,
    output: () => out,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
};

export type CliResult = {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
};

/** Runs the `authlog` CLI as a child process. */
export const runCli = (
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<CliResult> =>
  new Promise((resolvePromise) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    if (input !== undefined) child.stdin?.end(input);
    child.once('exit', (code) => resolvePromise({ code, stdout, stderr }));
  });

export const removeDir = (dir: string) => rmSync(dir, { recursive: true, force: true });
