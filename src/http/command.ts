import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Command } from '../node/command.ts';
import { isSafeMethod } from './csrf.ts';
import { clientIp } from './proxy.ts';

/** The request's actor and context, as commands record them. */
export const commandMeta = (request: FastifyRequest) => ({
  // Anonymous only on public routes (registration, login); everything else is authenticated.
  actor: request.auth?.actor ?? 'anonymous',
  ...(request.auth ? { via: request.auth.via } : {}),
  ...(request.auth?.credential ? { credential: request.auth.credential } : {}),
  ...(request.auth?.evidences ? { evidences: request.auth.evidences } : {}),
  ...(request.auth?.elevated !== undefined ? { elevated: request.auth.elevated } : {}),
  correlationId: request.id,
  ip: clientIp(request),
  ...(request.headers['user-agent']
    ? { userAgent: request.headers['user-agent'].slice(0, 512) }
    : {}),
});

/**
 * Runs a command as the request's actor and sets the read-your-writes header. Safe methods never
 * change state (RFC 9110 9.2.1): CSRF checks let cross-site navigations through on that promise,
 * so a GET handler that tries to write is a bug, refused here before anything is written.
 */
export const run = async <R>(
  request: FastifyRequest,
  reply: FastifyReply,
  command: Command<R>,
): Promise<R> => {
  if (isSafeMethod(request.method))
    throw new Error(`${request.method} ${request.routeOptions.url}: a safe method must not write`);
  const receipt = await request.server.node.execute(command, commandMeta(request));
  reply.header('authlog-applied', receipt.token);
  return receipt.result;
};
