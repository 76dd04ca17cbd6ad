// `authlog token issue|revoke`: access tokens for applications (scenarios 7 and 8). The token is
// printed once, on stdout, and is stored by the node only as its SHA-256.
import { Type } from '@sinclair/typebox';
import { type Command, InvalidArgumentError } from 'commander';
import { connect, path } from './client.ts';
import { type ApiOptions, parseId, withApiOptions } from './options.ts';
import { keyValues, print, printJson } from './output.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const parseDays = (value: string): number => {
  const n = Number(value);
  if (!/^[0-9]{1,3}$/.test(value) || n < 1 || n > 730)
    throw new InvalidArgumentError('must be a whole number of days from 1 to 730');
  return n;
};

export const tokenCommand = (program: Command) => {
  const token = program
    .command('token')
    .description('access tokens for applications: issue (shown once) and revoke');

  withApiOptions(token.command('issue'))
    .description('issue an access token for a principal; prints it once')
    .argument('<principalId>', 'principal id', parseId)
    .requiredOption('--name <name>', 'what the token is for')
    .option('--days <n>', 'lifetime in days (default 90, at most 730)', parseDays)
    .option(
      '--subnet <cidr>',
      'accept the token only from this IPv4/IPv6 range (repeatable)',
      collect,
    )
    .action(
      async (
        principalId: string,
        opts: ApiOptions & { name: string; days?: number; subnet?: string[] },
      ) => {
        const result = await connect(opts).send(
          'POST',
          path`/v1/principals/${principalId}/tokens`,
          Type.Object({
            credentialId: Type.String(),
            token: Type.String(),
            expiresAt: Type.String(),
          }),
          {
            name: opts.name,
            ...(opts.days !== undefined ? { days: opts.days } : {}),
            ...(opts.subnet !== undefined ? { subnets: opts.subnet } : {}),
          },
        );
        if (opts.json) return printJson(result);
        print(
          keyValues([
            ['credential', result.credentialId],
            ['token', result.token],
            ['expires', result.expiresAt],
          ]),
        );
        print('\nThe token is shown this once; the node keeps only its hash.');
      },
    );

  withApiOptions(token.command('revoke'))
    .description('revoke an access token; final')
    .argument('<credentialId>', 'the credential id printed at issue', parseId)
    .action(async (credentialId: string, opts: ApiOptions) => {
      const result = await connect(opts).send(
        'DELETE',
        path`/v1/tokens/${credentialId}`,
        Type.Object({ revoked: Type.Boolean() }),
      );
      if (opts.json) return printJson(result);
      print(`token ${credentialId} is revoked`);
    });
};
