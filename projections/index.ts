// Every projection of the read model, in the order their handlers run for an event.
import type { Projection } from '../src/readmodel/projection.ts';
import { accountTokens } from './account-tokens.ts';
import { audit } from './audit.ts';
import { authority } from './authority.ts';
import { authz } from './authz.ts';
import { cluster } from './cluster.ts';
import { credentials } from './credentials.ts';
import { externalAccounts } from './external-accounts.ts';
import { factors } from './factors.ts';
import { identities } from './identities.ts';
import { inert } from './inert.ts';
import { principals } from './principals.ts';
import { sessions } from './sessions.ts';

export const projections: readonly Projection[] = [
  principals,
  identities,
  credentials,
  externalAccounts,
  factors,
  authz,
  sessions,
  accountTokens,
  authority,
  cluster,
  inert,
  audit,
];

/** Every projection but the audit trail and the one that reads it (authority races look up an
 * actor's earlier events in the audit rows): benchmarks measure the audit trail's cost with it. */
export const projectionsWithoutAudit: readonly Projection[] = projections.filter(
  (p) => p !== audit && p !== authority,
);
