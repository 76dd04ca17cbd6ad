#!/usr/bin/env node
// The `authlog` command. Exit codes: 0 success, 1 the operation failed (the server said no, or
// the check found a problem), 2 bad usage or configuration, 3 the node could not be reached.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../boot/config.ts';
import { auditCommand } from './audit.ts';
import { clusterCommand } from './cluster.ts';
import { credentialCommand } from './credential.ts';
import { directoryCommand } from './directory.ts';
import { CliError, EXIT } from './errors.ts';
import { eventsCommand } from './events.ts';
import { identityCommand } from './identity.ts';
import { peerCommand } from './peer.ts';
import { principalCommand } from './principal.ts';
import { rebuildCommand } from './rebuild.ts';
import { replayCommand } from './replay.ts';
import { roleCommand } from './role.ts';
import { serveCommand } from './serve.ts';
import { authCommands } from './session.ts';
import { statusCommand } from './status.ts';
import { tokenCommand } from './token.ts';

export { EXIT };

export const buildProgram = (): Command => {
  const program = new Command('authlog')
    .description('authlog: replicated authentication, authorization and accounting store')
    .showHelpAfterError()
    .exitOverride();
  serveCommand(program);
  // Subcommands made with .command() inherit exitOverride and showHelpAfterError from here.
  principalCommand(program);
  identityCommand(program);
  directoryCommand(program);
  statusCommand(program);
  roleCommand(program);
  peerCommand(program);
  clusterCommand(program);
  rebuildCommand(program);
  eventsCommand(program);
  credentialCommand(program);
  tokenCommand(program);
  // After `principal` and `credential`: adds set-password, unlock, lockout to them.
  authCommands(program);
  auditCommand(program);
  replayCommand(program);
  return program;
};

export const main = async (argv: readonly string[]): Promise<number> => {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`authlog: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failed;
  }
};

const code = await main(process.argv.slice(2));
// `serve` keeps running (the server holds the event loop); everything else exits with its code.
if (code !== EXIT.ok) process.exit(code);
