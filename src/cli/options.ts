import type { Command } from 'commander';

/** Options every command that touches a node's data folder shares. */
export const withDataOptions = (command: Command): Command =>
  command
    .option('--data-dir <dir>', 'data folder (AUTHLOG_DATA_DIR, default ./data)')
    .option(
      '--node-id <id>',
      'node id (AUTHLOG_NODE_ID; generated and kept in the data folder if unset)',
    );

export const configOverrides = (opts: {
  dataDir?: string;
  nodeId?: string;
  host?: string;
  port?: string;
}) => {
  const o: Record<string, string> = {};
  if (opts.dataDir !== undefined) o.AUTHLOG_DATA_DIR = opts.dataDir;
  if (opts.nodeId !== undefined) o.AUTHLOG_NODE_ID = opts.nodeId;
  if (opts.host !== undefined) o.AUTHLOG_HOST = opts.host;
  if (opts.port !== undefined) o.AUTHLOG_PORT = opts.port;
  return o;
};
