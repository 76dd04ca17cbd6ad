// A node's external directories: one LdapDirectory per `ldap` credential directory, made from the
// replicated settings and this node's own overrides (node-settings.ts), made again when either
// changes; the offline verifier cache; and what logins ask of them — check a linked account's
// password, find and check a name seen for the first time, read the groups that external role
// directories map to roles. Use cases reach it through AuthnPorts (src/authn/flows/ports.ts);
// nothing here writes events.
import { externalRoleDirectories } from '../../projections/authz.ts';
import { ldapDirectories, ldapSettingsOf } from '../../projections/credentials.ts';
import { identitiesOf } from '../../projections/identities.ts';
import type {
  Account,
  DirectoryPort,
  FoundAccount,
  LinkedAccount,
  Observations,
  Refusal,
  Verification,
} from '../authn/directory-port.ts';
import type { Argon2Params } from '../authn/passwords.ts';
import { hashPassword, verifyPassword } from '../authn/passwords.ts';
import { AppError } from '../errors.ts';
import * as normalize from '../events/normalize.ts';
import { canonicalJson } from '../events/signature.ts';
import type { Reader } from '../readmodel/projection.ts';
import { type OfflineCache, openOfflineCache } from '../store/local/offline-verifiers.ts';
import { LdapDirectory } from './ldap.ts';
import { connectionOf, type Env } from './node-settings.ts';

export type DirectoryServiceOptions = {
  /** This node's environment (AUTHLOG_LDAP_<ID>_*). */
  readonly env: Env;
  /** The offline verifier cache file; ':memory:' keeps it in this process only. */
  readonly offlineCachePath: string;
  readonly argon2: Argon2Params;
  readonly log?: { warn(o: object, msg: string): void };
};

const isUnavailable = (err: unknown): err is AppError =>
  err instanceof AppError && err.code === 'DIRECTORY_UNAVAILABLE';

/** A group's name as a role key (the same normalization role names get). */
const groupKey = (name: string): string | undefined => {
  try {
    return normalize.identityName('group', name).key;
  } catch {
    return undefined;
  }
};

export class DirectoryService implements DirectoryPort {
  readonly #options: DirectoryServiceOptions;
  readonly #clients = new Map<
    string,
    { readonly fingerprint: string; readonly ldap: LdapDirectory }
  >();
  readonly #cache: OfflineCache;
  /** Credentials whose verifier is being refreshed, so one login at a time hashes it. */
  readonly #refreshing = new Set<string>();

  constructor(options: DirectoryServiceOptions) {
    this.#options = options;
    this.#cache = openOfflineCache(options.offlineCachePath);
  }

  /** The client of an `ldap` credential directory, as this node reaches it; undefined when the
   * directory is not one. */
  directory(read: Reader, directoryId: string): LdapDirectory | undefined {
    const settings = ldapSettingsOf(read, directoryId);
    if (settings === undefined) return undefined;
    const connection = connectionOf(directoryId, settings, this.#options.env);
    const fingerprint = canonicalJson({ ...connection, settings });
    const have = this.#clients.get(directoryId);
    if (have?.fingerprint === fingerprint) return have.ldap;
    if (have) void have.ldap.close();
    const ldap = new LdapDirectory(directoryId, connection);
    this.#clients.set(directoryId, { fingerprint, ldap });
    return ldap;
  }

  canonicalName(read: Reader, identityDirectoryId: string, typed: string): string {
    const source = this.provisioner(read, identityDirectoryId);
    const ldap = source === undefined ? undefined : this.directory(read, source);
    return ldap?.canonicalName(typed) ?? typed;
  }

  /** The first (by id) `ldap` credential directory provisioning `identityDirectoryId`. */
  provisioner(read: Reader, identityDirectoryId: string): string | undefined {
    return ldapDirectories(read).find((d) => d.settings.identityDirectoryId === identityDirectoryId)
      ?.id;
  }

  /** A name seen for the first time: the account it names, if the password is right. */
  async authenticateName(
    read: Reader,
    directoryId: string,
    typed: string,
    password: string,
  ): Promise<FoundAccount> {
    const ldap = this.directory(read, directoryId);
    if (ldap === undefined) return { ok: false, refusal: 'no-such-account' };
    if (password.trim() === '') return { ok: false, refusal: 'empty-password' };
    if (ldap.settings.bindDnTemplate !== null && ldap.settings.bindDn === null) {
      const out = await ldap.bindByTemplate(typed, password);
      if (!('dn' in out)) return { ok: false, refusal: out.ok ? 'no-such-account' : out.refusal };
      return { ok: true, account: out, groups: await this.observe(read, directoryId, out.dn) };
    }
    const account = await ldap.findByName(typed);
    if (account === undefined) {
      // The same round trips as for an account that exists (ASVS 5.0 6.3.8): a bind that fails.
      await ldap
        .bind(`cn=authlog-no-such-account,${ldap.settings.baseDn}`, password)
        .catch(() => {});
      return { ok: false, refusal: 'no-such-account' };
    }
    if (account.refusal !== undefined) return { ok: false, refusal: account.refusal };
    const bound = await ldap.bind(account.dn, password);
    if (!bound.ok) return bound;
    return { ok: true, account, groups: await this.observe(read, directoryId, account.dn) };
  }

  /** Checks the password of a principal's linked account (`entryId`), against the directory,
   * or, while no server answers and the directory allows it, against this node's verifier. */
  async verify(
    read: Reader,
    account: LinkedAccount,
    password: string,
    now: number,
  ): Promise<Verification> {
    const ldap = this.directory(read, account.directoryId);
    if (ldap === undefined) return { ok: false, refusal: 'no-such-account' };
    if (password.trim() === '') return { ok: false, refusal: 'empty-password' };
    try {
      const found = await this.#findAccount(read, ldap, account, password);
      if (!('dn' in found)) return found;
      const groups = await this.observe(read, account.directoryId, found.dn);
      this.#remember(ldap, account.credentialId, password, now);
      return { ok: true, method: 'ldap', groups };
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      return this.#offline(ldap, account.credentialId, password, now, err);
    }
  }

  /** Finds the linked account again (DNs change, stable ids do not) and binds as it. */
  async #findAccount(
    read: Reader,
    ldap: LdapDirectory,
    account: { readonly entryId: string; readonly principalId: string },
    password: string,
  ): Promise<Account | { readonly ok: false; readonly refusal: Refusal }> {
    const s = ldap.settings;
    if (s.bindDnTemplate !== null && s.bindDn === null) {
      // No service account to search with: the DN comes from the principal's name in the
      // directory's identity directory, and the entry read after the bind must be the linked one.
      const name = identitiesOf(read, account.principalId).find(
        (i) => !i.removed && i.directoryId === s.identityDirectoryId,
      )?.name;
      if (name === undefined) return { ok: false, refusal: 'no-such-account' };
      const out = await ldap.bindByTemplate(name, password);
      if (!('dn' in out)) return { ok: false, refusal: out.ok ? 'no-such-account' : out.refusal };
      return out.entryId === account.entryId ? out : { ok: false, refusal: 'no-such-account' };
    }
    const found = await ldap.findById(account.entryId);
    if (found === undefined) return { ok: false, refusal: 'no-such-account' };
    if (found.refusal !== undefined) return { ok: false, refusal: found.refusal };
    const bound = await ldap.bind(found.dn, password);
    return bound.ok ? found : bound;
  }

  /** What every external role directory reading this directory says `dn`'s groups are. */
  async observe(read: Reader, directoryId: string, dn: string): Promise<Observations> {
    const ldap = this.directory(read, directoryId);
    const out = new Map<string, string[]>();
    if (ldap === undefined) return out;
    for (const { id, external } of externalRoleDirectories(read)) {
      if (external.credentialDirectoryId !== directoryId) continue;
      const names = await ldap.groupsOf(dn, external);
      const keys = names.map(groupKey).filter((k): k is string => k !== undefined);
      out.set(id, [...new Set(keys)].sort().slice(0, 256));
    }
    return out;
  }

  /** After an online success: keep (or renew the age of) this node's verifier, off the login's
   * path. The password is hashed again only when it no longer matches the kept verifier. */
  #remember(ldap: LdapDirectory, credentialId: string, password: string, now: number): void {
    if (ldap.settings.offlineCacheSeconds === 0 || this.#refreshing.has(credentialId)) return;
    this.#refreshing.add(credentialId);
    setImmediate(async () => {
      try {
        const kept = this.#cache.get(credentialId);
        if (kept !== undefined && (await verifyPassword(kept.verifier, password)))
          this.#cache.touch(credentialId, now);
        else this.#cache.put(credentialId, await hashPassword(password, this.#options.argon2), now);
      } catch (err) {
        this.#options.log?.warn({ err: String(err) }, 'could not keep an offline verifier');
      } finally {
        this.#refreshing.delete(credentialId);
      }
    });
  }

  async #offline(
    ldap: LdapDirectory,
    credentialId: string,
    password: string,
    now: number,
    outage: AppError,
  ): Promise<Verification> {
    const bound = ldap.settings.offlineCacheSeconds * 1000;
    const kept = bound === 0 ? undefined : this.#cache.get(credentialId);
    if (kept === undefined) throw outage;
    if (now - kept.storedAt > bound) {
      this.#cache.forget(credentialId);
      throw outage;
    }
    return (await verifyPassword(kept.verifier, password))
      ? { ok: true, method: 'ldap-offline', groups: new Map() }
      : { ok: false, refusal: 'invalid-credentials' };
  }

  /** Waits for verifiers being kept (tests; a clean stop). */
  async settled(): Promise<void> {
    while (this.#refreshing.size > 0) await new Promise((r) => setTimeout(r, 5));
  }

  async close(): Promise<void> {
    await this.settled();
    for (const { ldap } of this.#clients.values()) await ldap.close();
    this.#clients.clear();
    this.#cache.close();
  }
}

/** A refusal the HTTP edge shows as a 503: nothing was decided about the password. */
export const directoryUnavailable = isUnavailable;
