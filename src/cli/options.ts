import { Value } from '@sinclair/typebox/value';
import { type Command, InvalidArgumentError } from 'commander';
import { Id } from '../http/schemas.ts';

/** Options every command that touches a node's data folder shares. */
export const withDataOptions = (command: Command): Command =>
  command
    .option('--data-dir <dir>', 'data folder (AUTHLOG_DATA_DIR, default ./data)')
    .option(
      '--node-id <id>',
      'node id (AUTHLOG_NODE_ID; the data folder keeps the first one, generated if unset, and refuses another)',
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

/** Options every command that talks to a running node shares. */
export const withApiOptions = (command: Command): Command =>
  command
    .option('--url <url>', 'node URL (AUTHLOG_URL, default http://127.0.0.1:8080)')
    .option(
      '--data-dir <dir>',
      "node's data folder, for its operator token when AUTHLOG_OPERATOR_TOKEN is unset (AUTHLOG_DATA_DIR, default ./data)",
    )
    .option('--json', 'print machine-readable JSON on stdout');

export type ApiOptions = { url?: string; dataDir?: string; json?: boolean };

/** An id as the API accepts it; checked here so a typo never reaches a URL path. */
export const parseId = (value: string): string => {
  if (!Value.Check(Id, value))
    throw new InvalidArgumentError('an id is 1-64 letters, digits, dot, underscore, colon or dash');
  return value;
};

/** A page size the API accepts (1-500). */
export const parseLimit = (value: string): number => {
  const n = Number(value);
  if (!/^[0-9]{1,3}$/.test(value) || n < 1 || n > 500)
    throw new InvalidArgumentError('must be a whole number from 1 to 500');
  return n;
};
