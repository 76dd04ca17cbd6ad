// `authlog credential …`: a principal's OTP (TOTP/HOTP) and subnet credentials, over the node's
// HTTP API. The seed of a new OTP credential is printed once (stdout) and never again.
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { connect, path } from './client.ts';
import { type ApiOptions, parseId, withApiOptions } from './options.ts';
import { keyValues, print, printJson, table } from './output.ts';

const Enrolled = Type.Object({
  credentialId: Type.String(),
  kind: Type.String(),
  secret: Type.String(),
  uri: Type.String(),
  digits: Type.Integer(),
  algorithm: Type.String(),
  period: Type.Union([Type.Integer(), Type.Null()]),
  counter: Type.Union([Type.Integer(), Type.Null()]),
});
const Credential = Type.Object({
  credentialId: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  directoryId: Type.Union([Type.String(), Type.Null()]),
  confirmed: Type.Boolean(),
  cidrs: Type.Array(Type.String()),
  createdAt: Type.String(),
  validUntil: Type.Union([Type.String(), Type.Null()]),
  revoked: Type.Boolean(),
});

const parseCode = (value: string): string => {
  if (!/^[0-9]{6}([0-9]{2})?$/.test(value))
    throw new InvalidArgumentError('a code is 6 or 8 digits');
  return value;
};

const parseCounter = (value: string): number => {
  if (!/^[0-9]{1,14}$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
};

type EnrollOptions = ApiOptions & {
  name: string;
  digits: string;
  algorithm: string;
  period?: string;
  counter?: number;
  secretFile?: string;
  code?: string;
};

const readSecret = (file: string): string =>
  (file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8')).trim();

const enroll = (kind: 'totp' | 'hotp') => async (principalId: string, opts: EnrollOptions) => {
  const api = connect(opts);
  const result = await api.send('POST', path`/v1/principals/${principalId}/otp`, Enrolled, {
    kind,
    name: opts.name,
    digits: Number(opts.digits),
    algorithm: opts.algorithm,
    ...(kind === 'totp' && opts.period !== undefined ? { period: Number(opts.period) } : {}),
    ...(kind === 'hotp' && opts.counter !== undefined ? { counter: opts.counter } : {}),
    ...(opts.secretFile !== undefined ? { secret: readSecret(opts.secretFile) } : {}),
  });
  let confirmed = false;
  if (opts.code !== undefined) {
    await api.send(
      'POST',
      path`/v1/credentials/${result.credentialId}/confirm`,
      Type.Object({ credentialId: Type.String(), confirmed: Type.Boolean() }),
      { code: opts.code },
    );
    confirmed = true;
  }
  if (opts.json) return printJson({ ...result, confirmed });
  print(
    keyValues([
      ['credential', result.credentialId],
      ['kind', result.kind],
      ['secret', result.secret],
      ['uri', result.uri],
      ['confirmed', confirmed],
    ]),
  );
  if (!confirmed)
    print(
      `\nThe seed is shown this once. Confirm with a first code: authlog credential confirm ${result.credentialId} <code>`,
    );
};

const enrollOptions = (command: Command, kind: 'totp' | 'hotp'): Command => {
  const c = withApiOptions(command)
    .argument('<principalId>', 'principal id', parseId)
    .requiredOption('--name <name>', 'what the credential is (e.g. "phone", "YubiKey 5")')
    .addOption(new Option('--digits <n>', 'code length').choices(['6', '8']).default('6'))
    .addOption(
      new Option('--algorithm <alg>', 'HMAC hash')
        .choices(['sha1', 'sha256', 'sha512'])
        .default('sha1'),
    )
    .option(
      '--secret-file <file>',
      "import an existing base32 seed (a hardware token's) from a file, or - for stdin; never argv",
    )
    .option('--code <code>', 'confirm at once with a first code', parseCode);
  if (kind === 'totp') c.option('--period <seconds>', 'time step (default 30)');
  else
    c.option('--counter <n>', 'the next counter value the token shows (default 0)', parseCounter);
  return c;
};

export const credentialCommand = (program: Command) => {
  const credential = program
    .command('credential')
    .description("a principal's credentials: OTP (TOTP/HOTP), subnets; list and revoke");

  enrollOptions(credential.command('enroll-totp'), 'totp')
    .description(
      'enroll a TOTP credential (authenticator app); prints the seed and otpauth:// URI once',
    )
    .action(enroll('totp'));

  enrollOptions(credential.command('enroll-hotp'), 'hotp')
    .description('enroll an HOTP credential (hardware token); prints the seed once')
    .action(enroll('hotp'));

  withApiOptions(credential.command('confirm'))
    .description('confirm an OTP credential with a first code')
    .argument('<credentialId>', 'credential id', parseId)
    .argument('<code>', 'the code the app or token shows now', parseCode)
    .action(async (credentialId: string, code: string, opts: ApiOptions) => {
      const result = await connect(opts).send(
        'POST',
        path`/v1/credentials/${credentialId}/confirm`,
        Type.Object({ credentialId: Type.String(), confirmed: Type.Boolean() }),
        { code },
      );
      if (opts.json) return printJson(result);
      print(`credential ${credentialId} is confirmed`);
    });

  withApiOptions(credential.command('add-subnet'))
    .description('allow IPv4/IPv6 ranges as location evidence for a principal')
    .argument('<principalId>', 'principal id', parseId)
    .argument('<cidr...>', 'ranges like 10.0.0.0/8 or 2001:db8::/32')
    .requiredOption('--name <name>', 'what the ranges are (e.g. "office")')
    .option('--valid-until <time>', 'ISO 8601 UTC end of validity')
    .action(
      async (
        principalId: string,
        cidrs: string[],
        opts: ApiOptions & { name: string; validUntil?: string },
      ) => {
        const result = await connect(opts).send(
          'POST',
          path`/v1/principals/${principalId}/subnets`,
          Type.Object({ credentialId: Type.String(), cidrs: Type.Array(Type.String()) }),
          {
            name: opts.name,
            cidrs,
            ...(opts.validUntil !== undefined ? { validUntil: opts.validUntil } : {}),
          },
        );
        if (opts.json) return printJson(result);
        print(
          keyValues([
            ['credential', result.credentialId],
            ['ranges', result.cidrs.join(', ')],
          ]),
        );
      },
    );

  withApiOptions(credential.command('list'))
    .description("list a principal's credentials (never their secrets)")
    .argument('<principalId>', 'principal id', parseId)
    .action(async (principalId: string, opts: ApiOptions) => {
      const result = await connect(opts).get(
        path`/v1/principals/${principalId}/credentials`,
        Type.Object({ items: Type.Array(Credential) }),
      );
      if (opts.json) return printJson(result);
      print(
        table(
          ['CREDENTIAL', 'KIND', 'NAME', 'STATE', 'VALID UNTIL', 'RANGES'],
          result.items.map((c) => [
            c.credentialId,
            c.kind,
            c.name,
            c.revoked ? 'revoked' : c.confirmed ? 'live' : 'unconfirmed',
            c.validUntil ?? '',
            c.cidrs.join(','),
          ]),
        ),
      );
    });

  withApiOptions(credential.command('recovery-codes'))
    .description(
      "a principal's recovery codes: how many are left; --regenerate prints a new set once (the old set dies)",
    )
    .argument('<principalId>', 'principal id', parseId)
    .option(
      '--regenerate',
      'generate a new set (an elevated session of the principal, or a manager)',
    )
    .action(async (principalId: string, opts: ApiOptions & { regenerate?: boolean }) => {
      const api = connect(opts);
      if (opts.regenerate) {
        const made = await api.send(
          'POST',
          path`/v1/principals/${principalId}/recovery-codes`,
          Type.Object({ credentialId: Type.String(), codes: Type.Array(Type.String()) }),
        );
        if (opts.json) return printJson(made);
        print(made.codes.join('\n'));
        print(
          `\nThese ${made.codes.length} codes are shown this once; each replaces the second factor once, never the password. Any earlier set no longer works.`,
        );
        return;
      }
      const view = await api.get(
        path`/v1/principals/${principalId}/recovery-codes`,
        Type.Object({
          credentialId: Type.String(),
          createdAt: Type.String(),
          total: Type.Integer(),
          remaining: Type.Integer(),
          used: Type.Array(Type.Object({ index: Type.Integer(), at: Type.String() })),
        }),
      );
      if (opts.json) return printJson(view);
      print(
        keyValues([
          ['credential', view.credentialId],
          ['generated', view.createdAt],
          ['remaining', `${view.remaining} of ${view.total}`],
          ['used', view.used.map((u) => `#${u.index + 1} at ${u.at}`).join(', ')],
        ]),
      );
    });

  withApiOptions(credential.command('revoke'))
    .description('revoke a credential (OTP, subnet, recovery codes or access token); final')
    .argument('<credentialId>', 'credential id', parseId)
    .action(async (credentialId: string, opts: ApiOptions) => {
      const result = await connect(opts).send(
        'DELETE',
        path`/v1/credentials/${credentialId}`,
        Type.Object({ revoked: Type.Boolean() }),
      );
      if (opts.json) return printJson(result);
      print(`credential ${credentialId} is revoked`);
    });
};
