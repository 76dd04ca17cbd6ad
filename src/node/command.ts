// A command is a pure decision against the node's read model: it reads state, returns the events
// to record and a result for the caller, or throws an AppError. `now` comes in the metadata; a
// decide function never reads the clock, and ids are made by the caller before deciding.
import type { DomainEvent } from '../events/catalogue.ts';
import type { AuthorityUse, EventMeta } from '../events/envelope.ts';
import type { Reader } from '../readmodel/projection.ts';

export type CommandMeta = EventMeta & {
  readonly now: number;
  /** Evidences the actor's session holds (authentication); none for operator or system actors. */
  readonly evidences?: ReadonlySet<string>;
  /** How the actor authenticated at the HTTP edge; unset for in-process callers (CLI on the
   * node, tests, the library), which are trusted like the operator. */
  readonly credential?: 'operator' | 'session' | 'token' | 'basic' | 'gateway';
  /** The actor's session is elevated (sudo mode) now; see src/authn/elevation.ts. */
  readonly elevated?: boolean;
  /** Filled while deciding: the grants the actor's access checks were allowed by
   * (src/authz/admin.ts). The writer records them on the decision's events. */
  readonly authority?: AuthorityUse[];
};

export type Decision<R> = { readonly events: readonly DomainEvent[]; readonly result: R };

export type Command<R> = {
  readonly name: string;
  decide(state: Reader, meta: CommandMeta): Decision<R>;
};
