import type { Command } from 'commander';
import { loadConfig } from '../boot/config.ts';
import { configOverrides, withDataOptions } from './options.ts';

export const serveCommand = (program: Command) =>
  withDataOptions(program.command('serve'))
    .description('start a node: HTTP API on the configured address, data in the data folder')
    .option('--host <host>', 'address to listen on (AUTHLOG_HOST, default 127.0.0.1)')
    .option('--port <port>', 'TCP port (AUTHLOG_PORT, default 8080)')
    .option(
      '--no-bootstrap-admin',
      'do not create an administrator on first start (a node joining a cluster)',
    )
    .action(
      async (opts: {
        host?: string;
        port?: string;
        bootstrapAdmin: boolean;
        dataDir?: string;
        nodeId?: string;
      }) => {
        // Data files hold credential hashes: readable by this user only (OWASP ASVS 14.1.x).
        process.umask(0o077);
        const config = loadConfig(process.env, configOverrides(opts));
        // Loaded here, not at the top: other commands should not pay for (or break on) the server.
        const { startServer } = await import('../boot/server.ts');
        const server = await startServer(config, {
          bootstrapAdmin: opts.bootstrapAdmin && process.env.AUTHLOG_BOOTSTRAP_ADMIN !== 'false',
        });
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          process.stdout.write(`${signal}: stopping\n`);
          server.stop().then(
            () => process.exit(0),
            (err) => {
              process.stderr.write(`error while stopping: ${String(err)}\n`);
              process.exit(1);
            },
          );
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
      },
    );
