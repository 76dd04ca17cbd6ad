// A command is a pure decision against the node's read model: it reads state, returns the events
// to record and a result for the caller, or throws an AppError. `now` comes in the metadata; a
// decide function never reads the clock, and ids are made by the caller before deciding.
import type { DomainEvent } from '../events/catalogue.ts';
import { type AuthorityUse, type EventMeta, MAX_AUTHORITY_USES } from '../events/envelope.ts';
import type { Reader } from '../readmodel/projection.ts';

export type CommandMeta = EventMeta & {
  readonly now: number;
  /** Evidences the actor's session holds (authentication); none for operator or system actors. */
  readonly evidences?: ReadonlySet<string>;
  /** How the actor authenticated at the HTTP edge; unset for in-process callers (CLI on the
   * node, tests, the library), which are trusted like the operator. */
  readonly credential?: 'operator' | 'session' | 'token' | 'basic' | 'gateway';
  /** The actor's session is elevated (sudo mode) now; see src/authz/elevation.ts. */
  readonly elevated?: boolean;
};

/** The grants a decision's access checks were allowed by, in the order they were checked
 * (src/authz/admin.ts returns them; the command returns them in its decision). */
export type Authority = readonly AuthorityUse[];

/** What a command decided: the events to record, the caller's result, and the grants the
 * actor acted by. The writer records `authority` on the events (envelope `authority`, at most
 * `MAX_AUTHORITY_USES` distinct uses); a decision without events needs none. */
export type Decision<R> = {
  readonly events: readonly DomainEvent[];
  readonly result: R;
  readonly authority?: Authority;
};

export type Command<R> = {
  readonly name: string;
  decide(state: Reader, meta: CommandMeta): Decision<R>;
};

/** The authority an event records for `authority`: each grant once, in the order the checks met
 * them (a command may check the same twice), and no more than an event may carry (adding a member
 * checks every grant of the role); none when no grant was used. */
export const recordedAuthority = (authority: Authority | undefined): AuthorityUse[] | undefined => {
  if (authority === undefined || authority.length === 0) return undefined;
  const seen = new Set<string>();
  return authority
    .filter((u) => {
      const key = `${u.role}\u0000${u.grantedBy}\u0000${u.grant}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .slice(0, MAX_AUTHORITY_USES);
};
