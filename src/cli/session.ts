// Authentication from the CLI: `credential set-password` (Talos create_basic_credential),
// `principal unlock|lockout`, `session list|end|end-all` (administrator force log-off) and
// `policy set|list`. They run with the operator token, like every CLI command, so they need no
// elevation. A password is read from standard input (a pipe, or typed at a terminal without
// echo), never from the command line where `ps` and shell history would keep it.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { connect, path } from './client.ts';
import { type ApiOptions, parseId, withApiOptions } from './options.ts';
import { keyValues, print, printJson, table } from './output.ts';

const Session = Type.Object({
  sessionId: Type.String(),
  principalId: Type.String(),
  transport: Type.String(),
  startedAt: Type.String(),
  expiresAt: Type.String(),
  lastSeenAt: Type.String(),
  evidences: Type.Array(
    Type.Object({
      evidence: Type.String(),
      method: Type.String(),
      credentialId: Type.String(),
      at: Type.String(),
      expiresAt: Type.String(),
    }),
  ),
  complete: Type.Boolean(),
  missing: Type.Array(Type.String()),
  elevatedUntil: Type.Union([Type.String(), Type.Null()]),
});
const Policy = Type.Object({
  scope: Type.String(),
  subjectId: Type.String(),
  require: Type.Array(Type.String()),
  elevate: Type.Array(Type.String()),
});
const EVIDENCES = ['knowledge', 'ownership', 'location', 'trust', 'inherence'];

/** Reads a password: all of a piped stdin (one trailing newline dropped), or a line typed at a
 * terminal without echo. */
export const readPassword = async (
  input: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin,
): Promise<string> => {
  if (!input.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of input) chunks.push(Buffer.from(c as Uint8Array));
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  process.stderr.write('New password: ');
  const muted = new Writable({ write: (_c, _e, done) => done() });
  const rl = createInterface({ input, output: muted, terminal: true });
  const line = await new Promise<string>((resolve) => rl.once('line', resolve));
  rl.close();
  process.stderr.write('\n');
  return line;
};

const evidenceList = (value: string): string[] => {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const e of list)
    if (!EVIDENCES.includes(e))
      throw new InvalidArgumentError(`evidence ${e} is not one of ${EVIDENCES.join(', ')}`);
  return list;
};

const sub = (program: Command, name: string): Command => {
  const found = program.commands.find((c) => c.name() === name);
  return found ?? program.command(name);
};

export const authCommands = (program: Command) => {
  const credential = sub(program, 'credential');
  withApiOptions(credential.command('set-password'))
    .description(
      "set a principal's password (read from stdin): 8-1024 characters, not a common one; stored as argon2id",
    )
    .argument('<principalId>', 'principal id', parseId)
    .option('--valid-from <time>', 'ISO 8601 time from which it counts')
    .option('--valid-until <time>', 'ISO 8601 time until which it counts')
    .action(
      async (
        principalId: string,
        opts: ApiOptions & { validFrom?: string; validUntil?: string },
      ) => {
        const password = await readPassword();
        const result = await connect(opts).send(
          'PUT',
          path`/v1/principals/${principalId}/password`,
          Type.Object({ credentialId: Type.String(), principalId: Type.String() }),
          {
            password,
            ...(opts.validFrom ? { validFrom: opts.validFrom } : {}),
            ...(opts.validUntil ? { validUntil: opts.validUntil } : {}),
          },
        );
        if (opts.json) return printJson(result);
        print(`password set for ${principalId} (credential ${result.credentialId})`);
      },
    );

  const principal = sub(program, 'principal');
  withApiOptions(principal.command('unlock'))
    .description('end a lockout after too many failed logins and reset the failure count')
    .argument('<principalId>', 'principal id', parseId)
    .action(async (principalId: string, opts: ApiOptions) => {
      const result = await connect(opts).send(
        'POST',
        path`/v1/principals/${principalId}/unlock`,
        Type.Object({ unlocked: Type.Boolean() }),
      );
      if (opts.json) return printJson(result);
      print(result.unlocked ? `${principalId} unlocked` : `${principalId} was not locked`);
    });
  withApiOptions(principal.command('lockout'))
    .description("a principal's consecutive failed logins and lockout")
    .argument('<principalId>', 'principal id', parseId)
    .action(async (principalId: string, opts: ApiOptions) => {
      const result = await connect(opts).get(
        path`/v1/principals/${principalId}/lockout`,
        Type.Object({
          lockedUntil: Type.Union([Type.String(), Type.Null()]),
          failures: Type.Integer(),
          lockouts: Type.Integer(),
        }),
      );
      if (opts.json) return printJson(result);
      print(
        keyValues([
          ['locked until', result.lockedUntil ?? '(not locked)'],
          ['failures', String(result.failures)],
          ['lockouts', String(result.lockouts)],
        ]),
      );
    });

  const session = program
    .command('session')
    .description('sessions of a principal: list them, end one or all (force log-off)');
  withApiOptions(session.command('list'))
    .description("a principal's sessions that still work")
    .argument('<principalId>', 'principal id', parseId)
    .action(async (principalId: string, opts: ApiOptions) => {
      const result = await connect(opts).get(
        path`/v1/principals/${principalId}/sessions`,
        Type.Object({ items: Type.Array(Session) }),
      );
      if (opts.json) return printJson(result);
      print(
        table(
          ['session', 'transport', 'started', 'last seen', 'evidences', 'elevated until'],
          result.items.map((s) => [
            s.sessionId,
            s.transport,
            s.startedAt,
            s.lastSeenAt,
            s.evidences.map((e) => e.evidence).join(','),
            s.elevatedUntil ?? '',
          ]),
        ),
      );
    });
  withApiOptions(session.command('end'))
    .description('end one session')
    .argument('<sessionId>', 'session id', parseId)
    .action(async (sessionId: string, opts: ApiOptions) => {
      const result = await connect(opts).send(
        'DELETE',
        path`/v1/auth/sessions/${sessionId}`,
        Type.Object({ ended: Type.Boolean() }),
      );
      if (opts.json) return printJson(result);
      print(`session ${sessionId} ended`);
    });
  withApiOptions(session.command('end-all'))
    .description('force log-off: end every session of a principal')
    .argument('<principalId>', 'principal id', parseId)
    .action(async (principalId: string, opts: ApiOptions) => {
      const result = await connect(opts).send(
        'POST',
        path`/v1/principals/${principalId}/sessions/end`,
        Type.Object({ ended: Type.Integer() }),
      );
      if (opts.json) return printJson(result);
      print(`${result.ended} session(s) of ${principalId} ended`);
    });

  const policy = program
    .command('policy')
    .description('authentication policies: evidences a session must hold, and elevation asks for');
  withApiOptions(policy.command('set'))
    .description('set the policy of a principal or a role')
    .addOption(
      new Option('--scope <scope>', 'principal or role')
        .choices(['principal', 'role'])
        .default('principal'),
    )
    .argument('<id>', 'principal or role id', parseId)
    .requiredOption(
      '--require <evidences>',
      'comma-separated, e.g. knowledge,ownership',
      evidenceList,
    )
    .option('--elevate <evidences>', 'comma-separated (default: knowledge)', evidenceList)
    .action(
      async (
        id: string,
        opts: ApiOptions & { scope: string; require: string[]; elevate?: string[] },
      ) => {
        const result = await connect(opts).send(
          'PUT',
          path`/v1/auth/policies/${opts.scope}/${id}`,
          Policy,
          { require: opts.require, ...(opts.elevate ? { elevate: opts.elevate } : {}) },
        );
        if (opts.json) return printJson(result);
        print(
          `${result.scope} ${result.subjectId}: require ${result.require.join(',') || '(any one)'}; elevate with ${result.elevate.join(',') || 'knowledge'}`,
        );
      },
    );
  withApiOptions(policy.command('list'))
    .description('every authentication policy')
    .action(async (opts: ApiOptions) => {
      const result = await connect(opts).get(
        '/v1/auth/policies',
        Type.Object({ items: Type.Array(Policy) }),
      );
      if (opts.json) return printJson(result);
      print(
        table(
          ['scope', 'id', 'require', 'elevate'],
          result.items.map((p) => [p.scope, p.subjectId, p.require.join(','), p.elevate.join(',')]),
        ),
      );
    });
};
