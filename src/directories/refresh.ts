// External memberships stay fresh while sessions live (issue 17 item 4): a login records what the
// groups were; afterwards, every minute, this node reads again the groups of each principal with
// a session started here whose last reading is older than the role directory's `refreshSeconds`,
// and records ExternalRolesObserved where they changed — an account gone from the directory, or
// refused (disabled, locked), has no groups. Only the node that started a session refreshes it,
// so sites do not all read the same directory for the same people; the recorded observation is
// what every site answers from. A directory that does not answer is tried again at the next tick.
import { externalRoleDirectories, observedGroups } from '../../projections/authz.ts';
import { directoryAccount } from '../../projections/credentials.ts';
import { principalsWithOpenSessionsFrom } from '../../projections/sessions.ts';
import { recordObservations } from '../authn/provision.ts';
import { hlcWallMs } from '../clock/hlc.ts';
import { SYSTEM_ACTOR } from '../events/envelope.ts';
import type { AuthlogNode } from '../node/node.ts';
import type { DirectoryService } from './service.ts';

export type RoleRefresh = {
  /** One pass (the timer's; tests call it). */
  tick(now?: number): Promise<number>;
  stop(): void;
};

const TICK_MS = 60_000;

export const startRoleRefresh = (
  node: AuthlogNode,
  directories: DirectoryService,
  log?: { warn(o: object, msg: string): void },
): RoleRefresh => {
  /** principal \0 role directory → when this node last read it (ms). */
  const lastRead = new Map<string, number>();
  const tick = async (now = Date.now()): Promise<number> => {
    const read = node.read;
    const roleDirectories = externalRoleDirectories(read);
    if (roleDirectories.length === 0) return 0;
    const principals = principalsWithOpenSessionsFrom(read, node.id, new Date(now).toISOString());
    const out: { principalId: string; directoryId: string; groupKeys: string[] }[] = [];
    for (const { id, external } of roleDirectories) {
      const ldap = directories.directory(read, external.credentialDirectoryId);
      if (ldap === undefined) continue;
      for (const principalId of principals) {
        const key = `${principalId}\0${id}`;
        // Read when this node last read it, or when any site last recorded a change (a login).
        const recorded = observedGroups(read, principalId, id);
        const last = Math.max(lastRead.get(key) ?? 0, recorded ? hlcWallMs(recorded.hlc) : 0);
        if (now - last < external.refreshSeconds * 1000) continue;
        const account = directoryAccount(read, principalId, external.credentialDirectoryId);
        if (account === undefined) continue;
        try {
          const entry = await ldap.findById(account.entryId);
          const groups =
            entry === undefined || entry.refusal !== undefined
              ? new Map([[id, [] as string[]]])
              : await directories.observe(read, external.credentialDirectoryId, entry.dn);
          out.push({ principalId, directoryId: id, groupKeys: [...(groups.get(id) ?? [])] });
          lastRead.set(key, now);
        } catch (err) {
          log?.warn({ directory: id, err: String(err) }, 'could not refresh external roles');
          break;
        }
      }
    }
    if (out.length === 0) return 0;
    return (await node.execute(recordObservations(out), { actor: SYSTEM_ACTOR })).result.recorded;
  };
  const timer = setInterval(() => {
    tick().catch((err) => log?.warn({ err: String(err) }, 'external role refresh failed'));
  }, TICK_MS);
  timer.unref();
  return { tick, stop: () => clearInterval(timer) };
};
