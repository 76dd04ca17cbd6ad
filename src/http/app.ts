// buildApp() assembles the HTTP edge around a running node; listen() happens elsewhere, so
// tests drive it with inject(). Route groups are encapsulated plugins under routes/.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AppError } from '../errors.ts';
import type { AuthlogNode } from '../node/node.ts';
import { seqOf } from '../replication/version-vector.ts';
import { sendProblem } from './problem.ts';
import { directoryRoutes } from './routes/directories.ts';
import { healthRoutes } from './routes/health.ts';
import { principalRoutes } from './routes/principals.ts';
import { statusRoutes } from './routes/status.ts';
import { validatorCompiler } from './validation.ts';

export type AppOptions = {
  readonly node: AuthlogNode;
  readonly operatorToken: string;
  readonly logger?: Logger | boolean;
  /** How long a request carrying `authlog-after` may wait for this node to apply that write. */
  readonly readYourWritesWaitMs?: number;
};

export type App = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyInstance {
    node: AuthlogNode;
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

const AFTER = /^([a-z0-9][a-z0-9-]{0,62}):([0-9]{1,19})$/;

export const buildApp = (options: AppOptions): App => {
  const app = Fastify<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: typeof options.logger === 'object' ? options.logger : undefined,
    logger: typeof options.logger === 'boolean' ? options.logger : undefined,
    bodyLimit: 64 * 1024,
    genReqId: () => crypto.randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    // Router-level refusals (overlong params, bad URLs) use the same problem format.
    frameworkErrors: (err, request, reply) => sendProblem(request, reply, err),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.decorate('node', options.node);
  app.setErrorHandler((err, request, reply) => sendProblem(request, reply, err));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new AppError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );

  const expected = sha256(options.operatorToken);
  const waitMs = options.readYourWritesWaitMs ?? 2000;

  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/')) return;
    const header = request.headers.authorization;
    const match = header ? /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/.exec(header) : null;
    // Compare digests in constant time: no timing oracle on the token (OWASP ASVS 2.9.3).
    if (!match || !timingSafeEqual(sha256(match[1]!), expected)) {
      throw new AppError(
        'UNAUTHENTICATED',
        'send the operator token as Authorization: Bearer <token>',
      );
    }
    if (!options.node.isReady())
      throw new AppError('NOT_READY', 'the read model is catching up; retry shortly');
    const after = request.headers['authlog-after'];
    if (typeof after === 'string') {
      const m = AFTER.exec(after);
      if (!m)
        throw new AppError(
          'VALIDATION_FAILED',
          'authlog-after must be origin:seq as returned in authlog-applied',
        );
      const origin = m[1]!;
      const seq = BigInt(m[2]!);
      const deadline = Date.now() + waitMs;
      while (seqOf(options.node.projector.applied, origin) < seq) {
        if (Date.now() >= deadline)
          throw new AppError('NOT_YET_APPLIED', `this node has not applied ${after} yet`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  });

  // A POST without a body (e.g. `deactivate` with no reason) is validated as an empty object.
  app.addHook('preValidation', async (request) => {
    if (
      request.body === undefined &&
      request.headers['content-type'] === undefined &&
      request.method !== 'GET'
    ) {
      request.body = {};
    }
  });

  app.register(healthRoutes);
  app.register(statusRoutes, { prefix: '/v1' });
  app.register(principalRoutes, { prefix: '/v1' });
  app.register(directoryRoutes, { prefix: '/v1' });
  return app;
};
