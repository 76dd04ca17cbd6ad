// `authlog cluster …` and `authlog node key-gen`: founding a cluster, joining one, enrolling and
// removing nodes (docs/replication-trust.md has the steps). Founding and joining write the data
// folder's cluster file; enrolling and removing are commands a member node takes over HTTP.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import { type Command, InvalidArgumentError } from 'commander';
import { foundersFromInvitation, invitationOf, writeClusterFile } from '../boot/cluster.ts';
import { loadConfig } from '../boot/config.ts';
import { writeNew } from '../boot/files.ts';
import { EVENT_FAMILIES, type EventFamily } from '../events/catalogue.ts';
import { generateNodeKey } from '../events/signature.ts';
import { connect, path } from './client.ts';
import { CliError, EXIT } from './errors.ts';
import { type ApiOptions, configOverrides, withApiOptions, withDataOptions } from './options.ts';
import { keyValues, print, printJson, table } from './output.ts';

const parseFamilies = (value: string): EventFamily[] => {
  if (value === 'all') return [...EVENT_FAMILIES];
  const list = value.split(',').map((f) => f.trim());
  const unknown = list.find((f) => !(EVENT_FAMILIES as readonly string[]).includes(f));
  if (unknown !== undefined || list.length === 0)
    throw new InvalidArgumentError(
      `families are all, or a comma-separated list of ${EVENT_FAMILIES.join(', ')}`,
    );
  return list as EventFamily[];
};

type DataOptions = { dataDir?: string; nodeId?: string };

const MemberSchema = Type.Object({
  node: Type.String(),
  founder: Type.Boolean(),
  families: Type.Union([Type.Array(Type.String()), Type.Literal('all')]),
  removedFrom: Type.Union([Type.String(), Type.Null()]),
  keys: Type.Integer(),
});

export const clusterCommand = (program: Command) => {
  const cluster = program
    .command('cluster')
    .description('the cluster: found it, join it, enroll and remove nodes');

  withDataOptions(cluster.command('init'))
    .description(
      'found a cluster with this node (the first site); prints the invitation for others',
    )
    .action((opts: DataOptions) => {
      process.umask(0o077);
      const config = loadConfig(process.env, {
        ...configOverrides(opts),
        AUTHLOG_CLUSTER_FOUND: 'true',
      });
      print(`node ${config.nodeId} founds the cluster (key from ${config.cluster.keySource}).`);
      print('On every other site, before its first start:');
      print(`  authlog cluster join ${invitationOf(config.cluster.founders)}`);
    });

  withDataOptions(cluster.command('invitation'))
    .description("print the invitation other sites join with (this data folder's founders)")
    .action((opts: DataOptions) => {
      const config = loadConfig(process.env, configOverrides(opts));
      print(invitationOf(config.cluster.founders));
    });

  withDataOptions(cluster.command('join'))
    .description(
      "join a cluster (before this node's first start): writes its founders; prints this node's public key to enroll",
    )
    .argument('<invitation>', 'what "authlog cluster init" or "authlog cluster invitation" printed')
    .action((invitation: string, opts: DataOptions) => {
      process.umask(0o077);
      const founders = foundersFromInvitation(invitation);
      const dataDir = resolve(opts.dataDir ?? process.env.AUTHLOG_DATA_DIR ?? 'data');
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      writeClusterFile(dataDir, founders);
      const config = loadConfig(process.env, configOverrides(opts));
      print(
        `node ${config.nodeId} joins the cluster of ${founders.map((f) => f.nodeId).join(', ')}.`,
      );
      print('On a member, an administrator enrolls it (elevated, authlog.cluster.manage):');
      print(
        `  authlog cluster enroll ${config.nodeId} --public-key ${config.cluster.key.publicKey} --families all`,
      );
      print(
        'Then add a peer ("authlog peer add") and start it: it takes writes once its enrollment arrives.',
      );
    });

  withApiOptions(cluster.command('enroll'))
    .description('enroll a node: its public key and the families of events it may originate')
    .argument('<nodeId>', "the node's id")
    .requiredOption('--public-key <key>', 'its public key, as "authlog cluster join" printed it')
    .requiredOption(
      '--families <list>',
      `all, or a comma-separated list of ${EVENT_FAMILIES.join(', ')}`,
      parseFamilies,
    )
    .action(
      async (nodeId: string, opts: ApiOptions & { publicKey: string; families: EventFamily[] }) => {
        const result = await connect(opts).send(
          'POST',
          '/v1/cluster/nodes',
          Type.Object({
            nodeId: Type.String(),
            publicKey: Type.String(),
            families: Type.Array(Type.String()),
          }),
          { nodeId, publicKey: opts.publicKey, families: opts.families },
        );
        if (opts.json) return printJson(result);
        print(`enrolled ${result.nodeId} for ${result.families.join(', ')}`);
      },
    );

  withApiOptions(cluster.command('remove'))
    .description('remove a node: every node refuses its events from a seq on')
    .argument('<nodeId>', "the node's id")
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .option('--from-seq <n>', 'first refused seq (default: the first this node has not applied)')
    .action(async (nodeId: string, opts: ApiOptions & { reason: string; fromSeq?: string }) => {
      if (opts.fromSeq !== undefined && !/^[1-9][0-9]{0,18}$/.test(opts.fromSeq))
        throw new CliError('--from-seq: a positive whole number', EXIT.usage);
      const result = await connect(opts).send(
        'POST',
        path`/v1/cluster/nodes/${nodeId}/removal`,
        Type.Object({ nodeId: Type.String(), fromSeq: Type.String(), reason: Type.String() }),
        { reason: opts.reason, ...(opts.fromSeq ? { fromSeq: opts.fromSeq } : {}) },
      );
      if (opts.json) return printJson(result);
      print(`${result.nodeId}: events from seq ${result.fromSeq} on are refused`);
    });

  withApiOptions(cluster.command('show'))
    .description('the members as the node knows them, and any equivocation')
    .action(async (opts: ApiOptions) => {
      const result = await connect(opts).get(
        '/v1/cluster',
        Type.Object({
          node: Type.String(),
          publicKey: Type.String(),
          enrolled: Type.Boolean(),
          members: Type.Array(MemberSchema),
          equivocations: Type.Array(Type.Object({ origin: Type.String(), seq: Type.String() })),
        }),
      );
      if (opts.json) return printJson(result);
      print(
        keyValues([
          ['node', result.node],
          ['public key', result.publicKey],
          ['enrolled', String(result.enrolled)],
        ]),
      );
      print(
        table(
          ['node', 'founder', 'families', 'removed from', 'keys'],
          result.members.map((m) => [
            m.node,
            m.founder ? 'yes' : '',
            m.families === 'all' ? 'all' : m.families.join(','),
            m.removedFrom ?? '',
            String(m.keys),
          ]),
        ),
      );
      for (const q of result.equivocations)
        print(`EQUIVOCATION: ${q.origin} signed two different events as seq ${q.seq}`);
    });

  const node = program.command('node').description("this node's signing key");

  withApiOptions(node.command('rotate-key'))
    .description(
      "rotate the running node's signing key: it makes a new key beside the old one, signs the rotation with the old one and signs with the new one from then on (the key must come from a file, not AUTHLOG_NODE_KEY)",
    )
    .action(async (opts: ApiOptions) => {
      const result = await connect(opts).send(
        'POST',
        '/v1/cluster/key-rotation',
        Type.Object({ publicKey: Type.String() }),
        {},
      );
      if (opts.json) return printJson(result);
      print(`rotated: the node signs with ${result.publicKey} from its next event on`);
    });

  node
    .command('key-gen')
    .description(
      'make a new Ed25519 node key: a PKCS#8 PEM file (mode 0600) for AUTHLOG_NODE_KEY_FILE, or without --out a line for AUTHLOG_NODE_KEY',
    )
    .option('--out <file>', 'where to write it (must not exist)')
    .action((opts: { out?: string }) => {
      const { pem, line, key } = generateNodeKey();
      if (opts.out === undefined) {
        print(`AUTHLOG_NODE_KEY=${line}`);
        print(`# public key: ${key.publicKey}`);
        return;
      }
      try {
        writeNew(opts.out, pem);
      } catch (err) {
        throw new CliError(
          `cannot write ${opts.out} (${(err as NodeJS.ErrnoException).code ?? err}); it must not exist`,
          EXIT.usage,
        );
      }
      print(`public key: ${key.publicKey}`);
    });
};
