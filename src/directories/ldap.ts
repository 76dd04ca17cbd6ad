// Talking to one external LDAP or Active Directory directory, through ldapts (no BER or LDAP
// protocol code here). What authlog asks of a directory:
//   - find an account by login name (a search as the service account, the name escaped per
//     RFC 4515) or by its stable id (entryUUID, objectGUID), or name its DN from a template
//     (RFC 4514 escaping);
//   - check a password by binding as the account (RFC 4513 5.1.2: an empty password is an
//     unauthenticated bind that "succeeds" on many servers, so it is refused before any bind);
//   - read the account's groups, nested ones included.
// Servers are tried in order (failover): a server that cannot be reached, or answers busy or
// unavailable, is skipped for a while and the next one is asked; connect and operation timeouts
// bound every wait. Only when none answers is the directory unavailable (DIRECTORY_UNAVAILABLE,
// 503): a wrong password is never mistaken for an outage, nor an outage for a wrong password.
// Connections are reused: one for the service account's searches and a few for users' binds per
// server.
//
// Active Directory (flavor `ad`): `user@corp.example` and `CORP\user` name the account `user`;
// disabled, locked, expired accounts and passwords that must change are read from the entry
// (userAccountControl, msDS-User-Account-Control-Computed, accountExpires, pwdLastSet) and refused
// before a bind, and the bind's own sub-codes (`data 52e` …) are mapped as a second line
// (https://learn.microsoft.com/troubleshoot/windows-server/active-directory/ldap-error-code-49).
import type { ConnectionOptions } from 'node:tls';
import { Client, type Entry, EqualityFilter, Filter, ResultCodeError } from 'ldapts';
import type { LdapSettings } from '../../projections/credentials.ts';
import type { Account, Refusal } from '../authn/directory-port.ts';
import { AppError } from '../errors.ts';

/** What a node uses to reach the directory: the shared settings with this node's own overrides
 * and the service account's secret (src/directories/node-settings.ts). */
export type Connection = {
  readonly settings: LdapSettings;
  readonly urls: readonly string[];
  readonly ca: string | null;
  readonly bindPassword: string | undefined;
};

export type BindResult = { readonly ok: true } | { readonly ok: false; readonly refusal: Refusal };

/** AD bind sub-codes (the `data XXX` of the diagnostic message) and what they mean. */
export const AD_SUBCODES: Readonly<Record<string, Refusal>> = {
  '525': 'no-such-account',
  '52e': 'invalid-credentials',
  '530': 'restricted',
  '531': 'restricted',
  '532': 'password-expired',
  '533': 'disabled',
  '568': 'restricted',
  '701': 'expired',
  '773': 'must-change',
  '775': 'locked',
};

/** What an invalid-credentials answer (result code 49) means, from its diagnostic message. */
export const refusalOf = (message: string): Refusal => {
  const sub = /\bdata ([0-9a-f]{3,4})\b/i.exec(message)?.[1]?.toLowerCase();
  return (sub !== undefined ? AD_SUBCODES[sub] : undefined) ?? 'invalid-credentials';
};

export const unavailable = (directoryId: string, why: string): AppError =>
  new AppError('DIRECTORY_UNAVAILABLE', `no server of directory ${directoryId} answered: ${why}`);

/** An RFC 4515 filter with `{name}` replaced by the escaped value. */
export const userFilter = (template: string, name: string): string =>
  template.split('{name}').join(Filter.escape(name));

/** A DN template with `{name}` in place: only for names with no character that is special in a
 * DN (RFC 4514 2.4: `,+"\\<>;=`, NUL, a leading `#` or space, a trailing space), so nothing needs
 * escaping (ldapts would quote such a value, a form RFC 4514 dropped); undefined for others. */
export const dnFromTemplate = (template: string, name: string): string | undefined =>
  /[,+"\\<>;=\0]|^[#\s]|\s$/.test(name) || name === ''
    ? undefined
    : template.split('{name}').join(name);

/** objectGUID bytes in the registry form AD shows (first three groups little-endian). */
export const guidString = (b: Buffer): string => {
  const h = (i: number, n: number, le: boolean) => {
    const part = b.subarray(i, i + n);
    return Buffer.from(le ? [...part].reverse() : part).toString('hex');
  };
  return `${h(0, 4, true)}-${h(4, 2, true)}-${h(6, 2, true)}-${h(8, 2, false)}-${h(10, 6, false)}`;
};

const guidBytes = (s: string): Buffer | undefined => {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)) return undefined;
  const hex = s.replace(/-/g, '');
  const le = (from: number, n: number) =>
    Buffer.from(hex.slice(from, from + n * 2), 'hex').reverse();
  return Buffer.concat([le(0, 4), le(8, 2), le(12, 2), Buffer.from(hex.slice(16), 'hex')]);
};

const first = (entry: Entry, attribute: string | null): string | undefined => {
  if (attribute === null) return undefined;
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  const one = Array.isArray(v) ? v[0] : v;
  return typeof one === 'string' && one !== '' ? one : undefined;
};

// userAccountControl and msDS-User-Account-Control-Computed bits (MS-ADTS 2.2.16).
const UF_ACCOUNTDISABLE = 0x2;
const UF_LOCKOUT = 0x10;
const UF_PASSWORD_EXPIRED = 0x800000;
/** accountExpires: 100 ns intervals since 1601-01-01; 0 and 2^63-1 mean never. */
const FILETIME_EPOCH_MS = 11_644_473_600_000n;

/** Why an AD account may not log in now, from its entry; undefined when it may. */
export const adRefusal = (entry: Entry, now: number): Refusal | undefined => {
  const uac = Number(first(entry, 'userAccountControl') ?? 0);
  const computed = Number(first(entry, 'msDS-User-Account-Control-Computed') ?? 0);
  if (uac & UF_ACCOUNTDISABLE) return 'disabled';
  if (computed & UF_LOCKOUT) return 'locked';
  const expires = first(entry, 'accountExpires');
  if (expires !== undefined && /^\d{1,20}$/.test(expires)) {
    const t = BigInt(expires);
    if (t !== 0n && t < 0x7fffffffffffffffn && Number(t / 10_000n - FILETIME_EPOCH_MS) <= now)
      return 'expired';
  }
  if (first(entry, 'pwdLastSet') === '0') return 'must-change';
  if (computed & UF_PASSWORD_EXPIRED) return 'password-expired';
  return undefined;
};

const AD_STATE_ATTRIBUTES = [
  'userAccountControl',
  'msDS-User-Account-Control-Computed',
  'accountExpires',
  'pwdLastSet',
];

/** Transport failures and a server that says it cannot serve: the next server is asked. */
const isOutage = (err: unknown): boolean =>
  !(err instanceof ResultCodeError) || err.code === 51 || err.code === 52 || err.code === 80;

/** How long a server that did not answer is skipped (it is still asked when all are down). */
const DOWN_FOR_MS = 15_000;
const POOL_PER_SERVER = 8;

export class LdapDirectory {
  readonly #id: string;
  readonly #c: Connection;
  readonly #downUntil = new Map<string, number>();
  readonly #service = new Map<string, Client>();
  readonly #idle = new Map<string, Client[]>();
  #closed = false;

  constructor(id: string, connection: Connection) {
    this.#id = id;
    this.#c = connection;
  }

  get settings(): LdapSettings {
    return this.#c.settings;
  }

  /** The servers in order, the ones known to be down last. */
  #order(): string[] {
    const now = Date.now();
    const up = this.#c.urls.filter((u) => (this.#downUntil.get(u) ?? 0) <= now);
    return [...up, ...this.#c.urls.filter((u) => !up.includes(u))];
  }

  #tls(): ConnectionOptions {
    return {
      ...(this.#c.ca === null ? {} : { ca: [this.#c.ca] }),
      minVersion: 'TLSv1.2',
    };
  }

  async #open(url: string): Promise<Client> {
    const s = this.#c.settings;
    const client = new Client({
      url,
      timeout: s.timeoutMs,
      connectTimeout: s.connectTimeoutMs,
      tlsOptions: this.#tls(),
      strictDN: false,
    });
    if (s.startTls && url.startsWith('ldap://')) await client.startTLS(this.#tls());
    return client;
  }

  /** Runs `work` against the first server that answers; an LDAP answer (a refusal) is final. */
  async #failover<T>(work: (url: string) => Promise<T>): Promise<T> {
    if (this.#closed) throw unavailable(this.#id, 'closed');
    let last = 'no server configured';
    for (const url of this.#order()) {
      try {
        const out = await work(url);
        this.#downUntil.delete(url);
        return out;
      } catch (err) {
        // Any other answer of the server (the service account refused, no such base, no access)
        // is its configuration, not the user's password: unavailable, and said why.
        if (!isOutage(err))
          throw err instanceof ResultCodeError
            ? unavailable(this.#id, `${url} answered LDAP result ${err.code}: ${err.message}`)
            : err;
        this.#downUntil.set(url, Date.now() + DOWN_FOR_MS);
        this.#drop(url);
        last = `${url}: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    throw unavailable(this.#id, last);
  }

  #drop(url: string): void {
    const service = this.#service.get(url);
    this.#service.delete(url);
    const idle = this.#idle.get(url) ?? [];
    this.#idle.delete(url);
    for (const c of [...idle, ...(service ? [service] : [])]) void c.unbind().catch(() => {});
  }

  /** The service account's connection to `url`, bound once and reused. */
  async #serviceClient(url: string): Promise<Client> {
    const have = this.#service.get(url);
    if (have?.isConnected && have.isBound) return have;
    if (have) void have.unbind().catch(() => {});
    this.#service.delete(url);
    const client = await this.#open(url);
    const { bindDn } = this.#c.settings;
    if (bindDn !== null) {
      if (!this.#c.bindPassword)
        throw new AppError(
          'DIRECTORY_UNAVAILABLE',
          `directory ${this.#id}: this node has no service account password (AUTHLOG_LDAP_<ID>_BIND_PASSWORD)`,
        );
      await client.bind(bindDn, this.#c.bindPassword);
    }
    this.#service.set(url, client);
    return client;
  }

  /** The one entry `filter` finds; undefined for none or more than one (an ambiguous name logs
   * nobody in: sizeLimitExceeded, result 4, is that answer too). */
  async #searchOne(url: string, filter: string | EqualityFilter): Promise<Account | undefined> {
    const client = await this.#serviceClient(url);
    const binary = this.#c.settings.idAttribute === 'objectGUID' ? ['objectGUID'] : [];
    try {
      const { searchEntries } = await client.search(this.#c.settings.baseDn, {
        scope: 'sub',
        filter,
        attributes: this.#attributes(),
        sizeLimit: 2,
        explicitBufferAttributes: binary,
      });
      return searchEntries.length === 1 ? this.#account(searchEntries[0]!) : undefined;
    } catch (err) {
      if (err instanceof ResultCodeError && err.code === 4) return undefined;
      throw err;
    }
  }

  #attributes(): string[] {
    const s = this.#c.settings;
    return [
      s.idAttribute,
      s.nameAttribute,
      ...[s.attributes.fullName, s.attributes.briefName, s.attributes.email].filter(
        (a): a is string => a !== null,
      ),
      ...(s.flavor === 'ad' ? AD_STATE_ATTRIBUTES : []),
    ];
  }

  #account(entry: Entry): Account | undefined {
    const s = this.#c.settings;
    const raw =
      entry[s.idAttribute] ??
      entry[Object.keys(entry).find((k) => k.toLowerCase() === s.idAttribute.toLowerCase()) ?? ''];
    const idValue = Array.isArray(raw) ? raw[0] : raw;
    const entryId = Buffer.isBuffer(idValue)
      ? guidString(idValue)
      : typeof idValue === 'string'
        ? idValue.toLowerCase()
        : undefined;
    const name = first(entry, s.nameAttribute);
    if (entryId === undefined || name === undefined || entryId.length > 64) return undefined;
    return {
      dn: entry.dn,
      entryId,
      name,
      fullName: first(entry, s.attributes.fullName),
      briefName: first(entry, s.attributes.briefName),
      email: first(entry, s.attributes.email),
      refusal: s.flavor === 'ad' ? adRefusal(entry, Date.now()) : undefined,
    };
  }

  /** The login name as the directory knows it: AD's `DOMAIN\user` and `user@suffix` name `user`. */
  canonicalName(typed: string): string {
    const s = this.#c.settings;
    if (s.flavor !== 'ad') return typed;
    const slash = typed.indexOf('\\');
    if (slash > 0 && s.netbiosDomain !== null) {
      const domain = typed.slice(0, slash);
      if (domain.toUpperCase() === s.netbiosDomain.toUpperCase()) return typed.slice(slash + 1);
    }
    const at = typed.lastIndexOf('@');
    if (at > 0) {
      const suffix = typed.slice(at + 1).toLowerCase();
      if (s.upnSuffixes.some((u) => u.toLowerCase() === suffix)) return typed.slice(0, at);
    }
    return typed;
  }

  /** The account a login name names; undefined when none or more than one does. */
  async findByName(typed: string): Promise<Account | undefined> {
    const s = this.#c.settings;
    const name = this.canonicalName(typed);
    if (s.bindDnTemplate !== null && s.bindDn === null) return undefined;
    const filter = userFilter(s.userFilter, name);
    return this.#failover((url) => this.#searchOne(url, filter));
  }

  /** The account with this stable id (found again at every login: DNs change, ids do not). */
  async findById(entryId: string): Promise<Account | undefined> {
    const s = this.#c.settings;
    // A filter object, not a string: ldapts reads a string filter's escapes back as UTF-8 text,
    // which mangles objectGUID's binary value.
    let filter: EqualityFilter;
    if (s.idAttribute === 'objectGUID') {
      const bytes = guidBytes(entryId);
      if (bytes === undefined) return undefined;
      filter = new EqualityFilter({ attribute: 'objectGUID', value: bytes });
    } else filter = new EqualityFilter({ attribute: 'entryUUID', value: entryId });
    return this.#failover((url) => this.#searchOne(url, filter));
  }

  /** Checks a password by binding as `dn` on a pooled connection. */
  async bind(dn: string, password: string): Promise<BindResult> {
    // RFC 4513 5.1.2: a simple bind with a DN and an empty password is an unauthenticated bind,
    // which many servers answer with success. Never sent.
    if (password.trim() === '') return { ok: false, refusal: 'empty-password' };
    return this.#failover(async (url) => {
      const pool = this.#idle.get(url) ?? [];
      let client = pool.pop();
      if (client !== undefined && !client.isConnected) {
        void client.unbind().catch(() => {});
        client = undefined;
      }
      client ??= await this.#open(url);
      try {
        await client.bind(dn, password);
      } catch (err) {
        if (isOutage(err)) {
          void client.unbind().catch(() => {});
          throw err;
        }
        this.#release(url, client);
        if (err instanceof ResultCodeError && err.code === 49)
          return { ok: false, refusal: refusalOf(err.message) } as const;
        if (err instanceof ResultCodeError && (err.code === 32 || err.code === 34))
          return { ok: false, refusal: 'no-such-account' } as const;
        throw err;
      }
      this.#release(url, client);
      return { ok: true } as const;
    });
  }

  #release(url: string, client: Client): void {
    const pool = this.#idle.get(url) ?? [];
    if (this.#closed || pool.length >= POOL_PER_SERVER || !client.isConnected) {
      void client.unbind().catch(() => {});
      return;
    }
    pool.push(client);
    this.#idle.set(url, pool);
  }

  /** The account's DN from the bind template, and after a bind as it, its entry (read as the
   * user). For directories without a service account. */
  async bindByTemplate(typed: string, password: string): Promise<Account | BindResult> {
    const s = this.#c.settings;
    if (s.bindDnTemplate === null) return { ok: false, refusal: 'no-such-account' };
    if (password.trim() === '') return { ok: false, refusal: 'empty-password' };
    const dn = dnFromTemplate(s.bindDnTemplate, this.canonicalName(typed));
    if (dn === undefined) return { ok: false, refusal: 'no-such-account' };
    return this.#failover(async (url) => {
      const client = await this.#open(url);
      try {
        await client.bind(dn, password);
        const binary = s.idAttribute === 'objectGUID' ? ['objectGUID'] : [];
        const { searchEntries } = await client.search(dn, {
          scope: 'base',
          attributes: this.#attributes(),
          explicitBufferAttributes: binary,
        });
        const account = searchEntries[0] && this.#account(searchEntries[0]);
        return account ?? ({ ok: false, refusal: 'no-such-account' } as const);
      } catch (err) {
        if (err instanceof ResultCodeError && err.code === 49)
          return { ok: false, refusal: refusalOf(err.message) } as const;
        throw err;
      } finally {
        void client.unbind().catch(() => {});
      }
    });
  }

  /** The names of the groups `dn` is in under `groups` settings, nested ones included. */
  async groupsOf(
    dn: string,
    groups: {
      readonly groupBaseDn: string;
      readonly groupFilter: string;
      readonly memberAttribute: string;
      readonly nameAttribute: string;
      readonly nested: 'in-chain' | 'recursive' | 'none';
    },
  ): Promise<string[]> {
    const names = new Set<string>();
    const searchGroups = async (url: string, filter: string) => {
      const client = await this.#serviceClient(url);
      const { searchEntries } = await client.search(groups.groupBaseDn, {
        scope: 'sub',
        filter,
        attributes: [groups.nameAttribute],
        sizeLimit: 1000,
      });
      return searchEntries;
    };
    const member = (who: string) =>
      `(&${groups.groupFilter}(${groups.memberAttribute}=${Filter.escape(who)}))`;
    return this.#failover(async (url) => {
      names.clear();
      if (groups.nested === 'in-chain') {
        // LDAP_MATCHING_RULE_IN_CHAIN: the server walks nested groups (AD, Samba).
        const filter = `(&${groups.groupFilter}(${groups.memberAttribute}:1.2.840.113556.1.4.1941:=${Filter.escape(dn)}))`;
        for (const e of await searchGroups(url, filter)) {
          const n = first(e, groups.nameAttribute);
          if (n !== undefined) names.add(n);
        }
        return [...names].sort();
      }
      // Breadth first over "groups whose member is X", bounded (a cycle ends at a seen group).
      const seen = new Set<string>();
      let frontier = [dn];
      for (let depth = 0; depth < 16 && frontier.length > 0 && seen.size < 1000; depth++) {
        const next: string[] = [];
        for (const who of frontier)
          for (const e of await searchGroups(url, member(who))) {
            const key = e.dn.toLowerCase();
            if (seen.has(key)) continue;
            seen.add(key);
            const n = first(e, groups.nameAttribute);
            if (n !== undefined) names.add(n);
            next.push(e.dn);
          }
        if (groups.nested === 'none') break;
        frontier = next;
      }
      return [...names].sort();
    });
  }

  /** The steps of `authlog directory test`: connect, service bind, a search, a user bind. */
  async probe(
    identity: string | undefined,
    password: string | undefined,
  ): Promise<{ step: string; ok: boolean; detail: string }[]> {
    const steps: { step: string; ok: boolean; detail: string }[] = [];
    const say = (step: string, ok: boolean, detail: string) => steps.push({ step, ok, detail });
    const s = this.#c.settings;
    let reached: string | undefined;
    for (const url of this.#c.urls) {
      try {
        const client = await this.#open(url);
        // An anonymous root DSE read proves the server speaks LDAP (and TLS, if asked).
        await client.search('', { scope: 'base', attributes: ['supportedLDAPVersion'] });
        await client.unbind();
        say('connect', true, `${url} answered`);
        reached ??= url;
      } catch (err) {
        say('connect', false, `${url}: ${describe(err)}`);
      }
    }
    if (reached === undefined) return steps;
    try {
      await this.#serviceClient(reached);
      say('service-bind', true, s.bindDn === null ? 'anonymous searches' : `bound as ${s.bindDn}`);
    } catch (err) {
      say('service-bind', false, describe(err));
      return steps;
    }
    if (identity === undefined) return steps;
    let account: Account | undefined;
    try {
      account = await this.findByName(identity);
      say(
        'search',
        account !== undefined,
        account === undefined
          ? `no single entry under ${s.baseDn} matches ${userFilter(s.userFilter, this.canonicalName(identity))}`
          : `found ${account.dn} (${s.idAttribute} ${account.entryId})`,
      );
    } catch (err) {
      say('search', false, describe(err));
      return steps;
    }
    if (account === undefined || password === undefined) return steps;
    if (account.refusal !== undefined) {
      say('user-bind', false, `the account may not log in: ${account.refusal}`);
      return steps;
    }
    try {
      const bound = await this.bind(account.dn, password);
      say('user-bind', bound.ok, bound.ok ? `bound as ${account.dn}` : `refused: ${bound.refusal}`);
    } catch (err) {
      say('user-bind', false, describe(err));
    }
    return steps;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const url of new Set([...this.#service.keys(), ...this.#idle.keys()])) this.#drop(url);
  }
}

const describe = (err: unknown): string =>
  err instanceof ResultCodeError
    ? `LDAP result ${err.code}: ${err.message}`
    : err instanceof Error
      ? err.message
      : String(err);
