import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Command } from '../node/command.ts';

/** Runs a command as the request's actor and sets the read-your-writes header. */
export const run = async <R>(
  request: FastifyRequest,
  reply: FastifyReply,
  command: Command<R>,
): Promise<R> => {
  const receipt = await request.server.node.execute(command, {
    // Until sessions exist (authentication issue), the operator token is the only credential.
    actor: 'system',
    via: 'operator-token',
    correlationId: request.id,
    ip: request.ip,
    ...(request.headers['user-agent']
      ? { userAgent: request.headers['user-agent'].slice(0, 512) }
      : {}),
  });
  reply.header('authlog-applied', receipt.token);
  return receipt.result;
};
