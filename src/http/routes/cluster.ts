// The cluster over HTTP (docs/replication-trust.md): who may originate events, enrolling a node
// and removing one. Reading needs authlog.node.read; changing needs authlog.cluster.manage and an
// elevated session (src/replication/cluster.ts).
import { Type } from '@sinclair/typebox';
import { READ_NODE, requireRead } from '../../authz/reads.ts';
import { EVENT_FAMILIES } from '../../events/catalogue.ts';
import { enrollNode, removeNode, rotateNodeKey } from '../../replication/cluster.ts';
import { commandMeta, run } from '../command.ts';
import { readerOf } from '../reader.ts';
import { errorResponses, Strict, TrustSchema } from '../schemas.ts';
import type { App } from '../types.ts';

const NodeId = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
const Family = Type.Union(EVENT_FAMILIES.map((f) => Type.Literal(f)));

export const clusterRoutes = async (app: App) => {
  const isFounder = (id: string) => app.node.trust.member(id)?.founder === true;

  app.get(
    '/cluster',
    {
      schema: {
        summary:
          "The cluster as this node knows it: this node's key, the members, what each may originate, removals and equivocations",
        tags: ['node'],
        response: {
          200: Type.Object({
            node: Type.String(),
            publicKey: Type.String(),
            enrolled: Type.Boolean(),
            ...TrustSchema.properties,
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_NODE);
      return {
        node: app.node.id,
        publicKey: app.node.publicKey,
        enrolled: app.node.trust.member(app.node.id) !== undefined,
        ...app.node.trust.summary(),
      };
    },
  );

  app.post(
    '/cluster/nodes',
    {
      schema: {
        summary:
          'Enroll a node: its public key and the families of events it may originate (authlog.cluster.manage, elevated)',
        tags: ['node'],
        body: Type.Object(
          {
            nodeId: NodeId,
            publicKey: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
            families: Type.Array(Family, {
              minItems: 1,
              maxItems: EVENT_FAMILIES.length,
              uniqueItems: true,
            }),
          },
          Strict,
        ),
        response: {
          201: Type.Object({
            nodeId: Type.String(),
            publicKey: Type.String(),
            families: Type.Array(Type.String()),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const result = await run(request, reply, enrollNode(request.body, isFounder));
      reply.code(201);
      return result;
    },
  );

  app.post(
    '/cluster/nodes/:nodeId/removal',
    {
      schema: {
        summary:
          'Remove a node: its events from `fromSeq` on (default: the first this node has not applied) are refused by every node (authlog.cluster.manage, elevated)',
        tags: ['node'],
        params: Type.Object({ nodeId: NodeId }, Strict),
        body: Type.Object(
          {
            reason: Type.String({ minLength: 1, maxLength: 500 }),
            fromSeq: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,18}$' })),
          },
          Strict,
        ),
        response: {
          200: Type.Object({
            nodeId: Type.String(),
            fromSeq: Type.String(),
            reason: Type.String(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) =>
      run(
        request,
        reply,
        removeNode(
          request.params.nodeId,
          request.body.reason,
          () => app.node.appliedVector(),
          isFounder,
          request.body.fromSeq === undefined ? undefined : BigInt(request.body.fromSeq),
        ),
      ),
  );

  app.post(
    '/cluster/key-rotation',
    {
      schema: {
        summary:
          "Rotate this node's signing key: the node makes a new key, signs the rotation with the old one, and signs with the new one from then on; the private key never leaves the node (authlog.cluster.manage, elevated)",
        tags: ['node'],
        body: Type.Optional(Type.Object({}, Strict)),
        response: {
          200: Type.Object({ publicKey: Type.String() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const receipt = await app.node.rotateKey(rotateNodeKey, commandMeta(request));
      reply.header('authlog-applied', receipt.token);
      return receipt.result;
    },
  );
};
