// Who reads, for the read checks of src/authz/reads.ts: the request's actor and its evidences.
import type { FastifyRequest } from 'fastify';
import type { ReaderIdentity } from '../authz/reads.ts';

export const readerOf = (request: FastifyRequest): ReaderIdentity => ({
  actor: request.auth?.actor ?? 'anonymous',
  ...(request.auth?.evidences ? { evidences: request.auth.evidences } : {}),
});
