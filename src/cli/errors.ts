// Exit codes of the `authlog` command and the one error type its subcommands throw; main.ts maps
// both to the process exit status in a single place.

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure already phrased for the terminal; `message` is printed as is on stderr. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}
