// Gathering evidence for a session step: every provider's slow part (argon2) runs outside the
// writer queue against committed state (`prepareEvidence`); inside the command each provider
// decides on what it prepared (`gather`), so the final check is serialized and pure.
import { allowedCredentialDirectories } from '../../../projections/identities.ts';
import { getSessionRecord } from '../../../projections/sessions.ts';
import type { EventPayload } from '../../events/catalogue.ts';
import type { Reader } from '../../readmodel/projection.ts';
import type {
  EvidenceContext,
  EvidenceProvider,
  PrepareContext,
  PrepareTools,
  Presented,
  Proof,
} from '../evidence.ts';

type SessionEvidence = EventPayload<'SessionStarted'>['evidences'][number];

const iso = (ms: number): string => new Date(ms).toISOString();

export type Prepared = ReadonlyMap<EvidenceProvider<unknown>, unknown>;

export type Attempt = {
  readonly principalId: string;
  readonly presented: Presented;
  readonly ip: string | undefined;
  /** See EvidenceContext: the credential directories the login's identity directory allows. */
  readonly credentialDirectories?: ReadonlySet<string> | undefined;
  /** See EvidenceContext: the session the step starts or adds to. */
  readonly sessionId?: string | undefined;
};

/** The credential directories a step of this session may use: those its login's identity
 * directory is tied to (undefined: any). */
export const sessionCredentialDirectories = (
  read: Reader,
  sessionId: string,
): ReadonlySet<string> | undefined => {
  const directory = getSessionRecord(read, sessionId)?.identityDirectory;
  return directory == null ? undefined : allowedCredentialDirectories(read, directory);
};

/** Runs every provider's slow part (argon2, a directory's bind) against committed state. */
export const prepareEvidence = async (
  providers: readonly EvidenceProvider<unknown>[],
  read: Reader,
  attempt: Attempt,
  now: number,
  tools: PrepareTools,
): Promise<Prepared> => {
  const context: PrepareContext = { state: read, ...attempt, now, ...tools };
  const out = new Map<EvidenceProvider<unknown>, unknown>();
  for (const p of providers) if (p.prepare) out.set(p, await p.prepare(context));
  return out;
};

type Gathered = { readonly proofs: Proof[]; readonly failed: string[] };

export const gather = (
  providers: readonly EvidenceProvider<unknown>[],
  state: Reader,
  attempt: Attempt,
  prepared: Prepared,
  now: number,
): Gathered => {
  const context: EvidenceContext = { state, ...attempt, now };
  const proofs: Proof[] = [];
  const failed: string[] = [];
  for (const p of providers) {
    const outcome = p.decide(context, prepared.get(p));
    if (outcome === 'failed') failed.push(p.method);
    else if (outcome === 'none') continue;
    else if ('failed' in outcome) failed.push(outcome.failed);
    else proofs.push(outcome);
  }
  return { proofs, failed };
};

/** The evidences proofs give a session, each capped by `cap` (the session's own expiry). */
export const evidencesOf = (
  proofs: readonly Proof[],
  now: number,
  cap: number,
): SessionEvidence[] =>
  proofs.flatMap((p) =>
    p.evidences.map((evidence) => ({
      evidence,
      method: p.method,
      credentialId: p.credentialId,
      at: iso(now),
      expiresAt: iso(Math.min(p.expiresAt, cap)),
    })),
  );
