import { Type } from '@sinclair/typebox';
import { READ_NODE, requireRead } from '../../authz/reads.ts';
import { AppError } from '../../errors.ts';
import { listConflicts } from '../../readmodel/conflicts.ts';
import { asAppError, sendProblem } from '../problem.ts';
import { readerOf } from '../reader.ts';
import { ConflictsSchema, errorResponses, NodeStatusSchema, Strict } from '../schemas.ts';
import type { App } from '../types.ts';

/** What went wrong, for an operator: SQLite's code and message (`SQLITE_CORRUPT: database disk
 * image is malformed`), or the error's name and message. */
const why = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err).slice(0, 300);
  const code = (err as { code?: unknown }).code;
  return `${typeof code === 'string' ? code : err.name}: ${err.message}`.slice(0, 300);
};

export const statusRoutes = async (app: App) => {
  app.get(
    '/status',
    {
      schema: {
        summary: "This node's id, applied version vector, writer state and optionally digest",
        tags: ['node'],
        querystring: Type.Object({ digest: Type.Optional(Type.Boolean()) }, Strict),
        response: {
          200: NodeStatusSchema,
          ...errorResponses,
        },
      },
      // Status is what monitoring asks when something is wrong, so it never answers 500, wherever
      // the failure comes from (a caller's token or session is looked up in the read model too):
      // refusals keep their codes, anything else is a 503 READ_MODEL_UNAVAILABLE. Its cause is
      // logged under the request id, not told to a caller who may not be authenticated yet.
      errorHandler: (err, request, reply) => {
        const refusal = asAppError(err);
        if (refusal.code !== 'INTERNAL') return sendProblem(request, reply, refusal);
        request.log.error({ err }, 'node status could not be read');
        return sendProblem(
          request,
          reply,
          new AppError('READ_MODEL_UNAVAILABLE', 'the node logged why under this request id'),
        );
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_NODE);
      const status = app.node.status();
      if (!request.query.digest) return status;
      // A digest that cannot be computed (the read model damaged while the node runs) is named
      // beside the rest of the status, for a caller allowed to read it.
      try {
        return { ...status, digest: app.node.digest() };
      } catch (err) {
        request.log.error({ err }, 'digest could not be computed');
        return { ...status, digestError: why(err) };
      }
    },
  );

  app.get(
    '/conflicts',
    {
      schema: {
        summary: 'Conflicts settled by the convergence rules, for review',
        tags: ['node'],
        response: {
          200: ConflictsSchema,
          ...errorResponses,
        },
      },
    },
    async (request) => {
      requireRead(app.node.authz, readerOf(request), READ_NODE);
      return { items: listConflicts(app.node.read) };
    },
  );
};
