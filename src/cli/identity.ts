// `authlog identity …`: login names of a principal, unique per identity directory.
import { Type } from '@sinclair/typebox';
import type { Command } from 'commander';
import { connect, path } from './client.ts';
import { type ApiOptions, parseId, withApiOptions } from './options.ts';
import { keyValues, print, printJson } from './output.ts';

export const identityCommand = (program: Command) => {
  const identity = program
    .command('identity')
    .description("add and remove a principal's identities (login names)");

  withApiOptions(identity.command('add'))
    .description('give a principal an identity; the name must be free in the directory')
    .argument('<principalId>', 'principal id', parseId)
    .argument('<name>', 'identity name (login name)')
    .option('--directory <id>', 'identity directory (default: the internal one)', parseId)
    .action(
      async (principalId: string, name: string, opts: ApiOptions & { directory?: string }) => {
        const result = await connect(opts).send(
          'POST',
          path`/v1/principals/${principalId}/identities`,
          Type.Object({ identityId: Type.String() }),
          { name, ...(opts.directory !== undefined ? { directoryId: opts.directory } : {}) },
        );
        if (opts.json) return printJson(result);
        print(keyValues([['identity', result.identityId]]));
      },
    );

  withApiOptions(identity.command('remove'))
    .description('remove an identity; its name becomes free again')
    .argument('<identityId>', 'identity id', parseId)
    .action(async (identityId: string, opts: ApiOptions) => {
      const result = await connect(opts).send(
        'DELETE',
        path`/v1/identities/${identityId}`,
        Type.Object({ removed: Type.Boolean() }),
      );
      if (opts.json) return printJson(result);
      print(`identity ${identityId} is removed`);
    });
};
