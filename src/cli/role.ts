// `authlog role …`, `authlog privilege define`, `authlog resource-type define`, `authlog authz check`:
// authorization administration and checks over the node's HTTP API.
import { type TSchema, Type } from '@sinclair/typebox';
import { type Command, Option } from 'commander';
import { GrantSchema, RoleSchema } from '../http/schemas.ts';
import { connect, path } from './client.ts';
import { CliError, EXIT } from './errors.ts';
import { type ApiOptions, parseId, withApiOptions } from './options.ts';
import { keyValues, print, printJson, table } from './output.ts';

type TargetOptions = {
  privilege?: string;
  resourceType?: string;
  action?: string;
  object?: string;
};

const target = (o: TargetOptions) => {
  if (
    o.privilege !== undefined &&
    o.resourceType === undefined &&
    o.action === undefined &&
    o.object === undefined
  ) {
    return { privilege: o.privilege };
  }
  if (o.privilege === undefined && o.resourceType !== undefined && o.action !== undefined) {
    return {
      resourceType: o.resourceType,
      action: o.action,
      ...(o.object !== undefined ? { objectId: o.object } : {}),
    };
  }
  throw new CliError(
    'give either --privilege <name>, or --resource-type <type> --action <action> [--object <id>]',
    EXIT.usage,
  );
};

const withTarget = (c: Command) =>
  c
    .option('--privilege <name>', 'a privilege, e.g. admin.console')
    .option('--resource-type <type>', 'a resource type, e.g. invoice')
    .option('--action <action>', 'an action of the resource type, e.g. update')
    .option(
      '--object <id>',
      'one object of the type (without it: every object, a model permission)',
    );

const simple = async (
  opts: ApiOptions,
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  schema: TSchema,
  body: object | undefined,
  human: (r: never) => string,
) => {
  const result = await connect(opts).send(method, url, schema, body);
  if (opts.json) return printJson(result);
  print(human(result as never));
};

export const roleCommand = (program: Command) => {
  const role = program.command('role').description('roles: hierarchy, grants and members');

  withApiOptions(role.command('list'))
    .description('list roles')
    .action(async (opts: ApiOptions) => {
      const { items } = await connect(opts).get(
        '/v1/roles',
        Type.Object({ items: Type.Array(RoleSchema) }),
      );
      if (opts.json) return printJson(items);
      print(
        table(
          ['id', 'name', 'directory', 'parent', 'status'],
          items.map((r) => [r.id, r.name, r.directoryId, r.effectiveParentId ?? '', r.status]),
        ),
      );
    });

  withApiOptions(role.command('show'))
    .description('a role with its own grants and its members')
    .argument('<roleId>', 'role id', parseId)
    .action(async (roleId: string, opts: ApiOptions) => {
      const schema = Type.Composite([
        RoleSchema,
        Type.Object({
          grants: Type.Array(GrantSchema),
          members: Type.Array(Type.String()),
        }),
      ]);
      const r = await connect(opts).get(path`/v1/roles/${roleId}`, schema);
      if (opts.json) return printJson(r);
      print(
        keyValues([
          ['id', r.id],
          ['name', r.name],
          ['directory', r.directoryId],
          ['parent', r.parentId ?? ''],
          ['effective parent', r.effectiveParentId ?? ''],
          ['members', r.members.join(', ')],
        ]),
      );
      print(
        table(
          ['scope', 'name', 'object', 'effect'],
          r.grants.map((g) => [g.scope, g.name, g.objectId, g.effect]),
        ),
      );
    });

  withApiOptions(role.command('create'))
    .description('create a role (Talos create_role)')
    .requiredOption('--name <name>', 'role name, unique in its directory')
    .option('--id <id>', 'role id (default: generated)', parseId)
    .option('--directory <id>', 'role directory (default: default)', parseId)
    .option('--parent <roleId>', 'parent role: its grants are inherited', parseId)
    .action(
      (opts: ApiOptions & { name: string; id?: string; directory?: string; parent?: string }) =>
        simple(
          opts,
          'POST',
          '/v1/roles',
          Type.Object({ roleId: Type.String() }),
          {
            name: opts.name,
            ...(opts.id ? { roleId: opts.id } : {}),
            ...(opts.directory ? { directoryId: opts.directory } : {}),
            ...(opts.parent ? { parentId: opts.parent } : {}),
          },
          (r: { roleId: string }) => `role ${r.roleId}`,
        ),
    );

  withApiOptions(role.command('update'))
    .description('rename a role or change its parent')
    .argument('<roleId>', 'role id', parseId)
    .option('--name <name>', 'new name')
    .addOption(
      new Option('--parent <roleId>', 'new parent role').argParser(parseId).conflicts('noParent'),
    )
    .option('--no-parent', 'make it a root role')
    .action((roleId: string, opts: ApiOptions & { name?: string; parent?: string | boolean }) => {
      const body = {
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(typeof opts.parent === 'string'
          ? { parentId: opts.parent }
          : opts.parent === false
            ? { parentId: null }
            : {}),
      };
      if (Object.keys(body).length === 0)
        throw new CliError('nothing to change: give --name, --parent or --no-parent', EXIT.usage);
      return simple(
        opts,
        'PATCH',
        path`/v1/roles/${roleId}`,
        Type.Object({ changed: Type.Array(Type.String()) }),
        body,
        (r: { changed: string[] }) =>
          r.changed.length > 0 ? `changed: ${r.changed.join(', ')}` : 'nothing changed',
      );
    });

  withApiOptions(role.command('delete'))
    .description('delete a role (final; its members lose it)')
    .argument('<roleId>', 'role id', parseId)
    .action((roleId: string, opts: ApiOptions) =>
      simple(
        opts,
        'DELETE',
        path`/v1/roles/${roleId}`,
        Type.Object({ deleted: Type.Boolean() }),
        undefined,
        () => `role ${roleId} is deleted`,
      ),
    );

  for (const [name, add] of [
    ['add-member', true],
    ['remove-member', false],
  ] as const) {
    withApiOptions(role.command(name))
      .description(
        add
          ? 'make a principal a member of a role (Talos create_role_membership)'
          : 'end a membership',
      )
      .argument('<roleId>', 'role id', parseId)
      .argument('<principalId>', 'principal id', parseId)
      .action((roleId: string, principalId: string, opts: ApiOptions) =>
        add
          ? simple(
              opts,
              'POST',
              path`/v1/roles/${roleId}/members`,
              Type.Object({ member: Type.Boolean() }),
              { principalId },
              () => `${principalId} is a member of ${roleId}`,
            )
          : simple(
              opts,
              'DELETE',
              path`/v1/roles/${roleId}/members/${principalId}`,
              Type.Object({ member: Type.Boolean() }),
              undefined,
              () => `${principalId} is not a member of ${roleId}`,
            ),
      );
  }

  for (const effect of ['grant', 'revoke', 'inherit'] as const) {
    const what = {
      grant: 'grant',
      revoke: 'revoke (also what the parent grants)',
      inherit: 'go back to inheriting',
    }[effect];
    withTarget(withApiOptions(role.command(effect)))
      .description(`${what} a privilege, a model permission or an object permission on a role`)
      .argument('<roleId>', 'role id', parseId)
      .action((roleId: string, opts: ApiOptions & TargetOptions) =>
        simple(
          opts,
          'PUT',
          path`/v1/roles/${roleId}/grants`,
          Type.Object({ effect: Type.String() }),
          { ...target(opts), effect },
          (r: { effect: string }) => `${roleId}: ${r.effect}`,
        ),
      );
  }

  const privilege = program.command('privilege').description('named rights not tied to a resource');
  withApiOptions(privilege.command('define'))
    .description('define (or re-describe) a privilege')
    .argument('<name>', 'dotted lowercase name, e.g. admin.console')
    .option('--description <text>', 'what it allows')
    .action((name: string, opts: ApiOptions & { description?: string }) =>
      simple(
        opts,
        'POST',
        '/v1/privileges',
        Type.Object({ privilege: Type.String() }),
        { privilege: name, ...(opts.description ? { description: opts.description } : {}) },
        () => `privilege ${name}`,
      ),
    );

  const resourceType = program
    .command('resource-type')
    .description("types of an application's resources");
  withApiOptions(resourceType.command('define'))
    .description('define a resource type and its actions (default: select, create, update, delete)')
    .argument('<name>', 'dotted lowercase name, e.g. billing.invoice')
    .option('--actions <list>', 'comma-separated actions')
    .action((name: string, opts: ApiOptions & { actions?: string }) =>
      simple(
        opts,
        'POST',
        '/v1/resource-types',
        Type.Object({ resourceType: Type.String(), actions: Type.Array(Type.String()) }),
        {
          resourceType: name,
          ...(opts.actions ? { actions: opts.actions.split(',').map((a) => a.trim()) } : {}),
        },
        (r: { actions: string[] }) => `resource type ${name}: ${r.actions.join(', ')}`,
      ),
    );

  const authz = program.command('authz').description('authorization checks');
  withTarget(withApiOptions(authz.command('check')))
    .description('may this principal do this? Exit 0 if allowed, 1 if denied')
    .argument('<principalId>', 'principal id', parseId)
    .action(async (principalId: string, opts: ApiOptions & TargetOptions) => {
      const answer = await connect(opts).send(
        'POST',
        '/v1/authz/check',
        Type.Object(
          { allow: Type.Boolean(), reason: Type.String() },
          { additionalProperties: true },
        ),
        { principalId, ...target(opts) },
      );
      if (opts.json) printJson(answer);
      else print(`${answer.allow ? 'allow' : 'deny'}: ${answer.reason}`);
      if (!answer.allow) throw new CliError('', EXIT.failed);
    });
};
