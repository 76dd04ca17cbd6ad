// A real OpenLDAP server (slapd, Debian packages slapd and ldap-utils) for the tests of LDAP
// authentication: a directory we did not write answers our binds and searches, so a test cannot
// pass by agreeing with a fake of our own making. Each server is a child process in the
// foreground (`slapd -d 0`, so the child is the server and killing it stops it), with a
// temporary folder of its own: a static slapd.conf (`-f`, no cn=config), an mdb database, and
// certificates made per run with the openssl CLI (a CA, and a server certificate for 127.0.0.1
// and localhost signed by it), so LDAPS clients can pin the CA and a wrong CA is refused.
//
// The directory: dc=example,dc=org with ou=people (inetOrgPerson entries named uid=…), ou=groups
// (groupOfNames, nested groups as members) and ou=system (cn=svc, the service account an LDAP
// connector searches with). Access: anonymous may only bind (auth); a user may bind and read
// their own entry, never a password; svc reads everything except userPassword; the rootdn
// (cn=admin) writes, and the helpers load and change the directory through it with ldapts.
// The root DSE stays readable anonymously, as on any slapd (the readiness probe reads it).
//
// slapd answers a simple bind with a DN and an empty password as an unauthenticated bind
// (RFC 4513 5.1.2) with unwillingToPerform (53) unless told otherwise: this configuration keeps
// that default, so a client that sends an empty password is refused, not bound anonymously.
//
// Tests stop a server mid-run (connection refused) and start it again on the same ports with
// the same data; a server left running is killed, and its folder deleted, when the test process
// exits or is ended by a signal. Where slapd or openssl is not installed, slapdMissing() says so
// and tests skip with that reason.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { tempDir } from './process.ts';
import { freePort } from './proxy.ts';

export { freePort };

const SLAPD = '/usr/sbin/slapd';
const SETPRIV = '/usr/bin/setpriv';
const SCHEMA_DIR = '/etc/ldap/schema';
const MODULE_DIR = '/usr/lib/ldap';

const onPath = (command: string, arg: string): boolean => {
  try {
    execFileSync(command, [arg], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Why a real slapd cannot run here (printed as the reason a test is skipped), or undefined. */
export const slapdMissing = (): string | undefined => {
  if (!existsSync(SLAPD) || !existsSync(join(MODULE_DIR, 'back_mdb.so')))
    return 'slapd not installed (Debian packages slapd, ldap-utils)';
  if (!existsSync(join(SCHEMA_DIR, 'inetorgperson.schema')))
    return `no OpenLDAP schema files in ${SCHEMA_DIR} (Debian package slapd)`;
  if (!onPath('openssl', 'version'))
    return 'the openssl CLI is not installed (Debian package openssl): no certificates';
  return undefined;
};

// ---------------------------------------------------------------------------------------------
// Certificates

const openssl = (cwd: string, ...args: string[]) =>
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

export type Pki = {
  readonly caFile: string;
  readonly caPem: string;
  readonly certFile: string;
  readonly keyFile: string;
};

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

// openssl asks for a subject unless told; this config keeps it quiet and marks the CA a CA.
const writeReqConfig = (dir: string): string => {
  const file = join(dir, 'openssl.cnf');
  writeFileSync(
    file,
    [
      '[req]',
      'prompt = no',
      'distinguished_name = dn',
      'x509_extensions = v3_ca',
      '[dn]',
      'CN = authlog test',
      '[v3_ca]',
      'basicConstraints = critical, CA:true',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  return file;
};

const makeCa = (dir: string, name: string) => {
  const config = writeReqConfig(dir);
  openssl(
    dir,
    'req',
    '-config',
    config,
    '-x509',
    ...EC,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  );
  return { caFile: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key'), config };
};

/**
 * A CA and a server certificate signed by it, in `dir` (which must exist): for the IP addresses
 * and DNS names given (subjectAltName), valid two days. The key file is mode 0600 (Samba refuses
 * a key others can read).
 */
export const makePki = (
  dir: string,
  names: { ips?: string[]; dns?: string[] } = { ips: ['127.0.0.1'], dns: ['localhost'] },
): Pki => {
  const { caFile, config } = makeCa(dir, 'authlog test LDAP CA');
  const san = [
    ...(names.ips ?? []).map((ip) => `IP:${ip}`),
    ...(names.dns ?? []).map((d) => `DNS:${d}`),
  ].join(',');
  const cn = names.dns?.[0] ?? names.ips?.[0] ?? 'localhost';
  openssl(
    dir,
    'req',
    '-config',
    config,
    ...EC,
    '-subj',
    `/CN=${cn}`,
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  writeFileSync(
    join(dir, 'server.ext'),
    `basicConstraints = CA:false\nkeyUsage = critical, digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = ${san}\n`,
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'server.ext',
    '-out',
    'server.pem',
  );
  chmodSync(join(dir, 'server.key'), 0o600);
  return {
    caFile,
    caPem: readFileSync(caFile, 'utf8'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
  };
};

/** The PEM of a CA that signed nothing of ours: a client that pins it must refuse our servers. */
export const otherCa = (): string => {
  const dir = tempDir('other-ca');
  try {
    return readFileSync(makeCa(dir, 'authlog unrelated CA').caFile, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

// ---------------------------------------------------------------------------------------------
// Directory content

export type LdapUser = {
  uid: string;
  /** Empty: the entry has no userPassword (a user who cannot bind). */
  password: string;
  cn?: string;
  sn?: string;
  mail?: string;
  givenName?: string;
};

/** A member is a user's uid, or `group:<cn>` for a nested group. */
export type LdapGroup = { cn: string; members: string[] };

export const DEFAULT_USERS: readonly LdapUser[] = [
  {
    uid: 'alice',
    password: 'alice-ldap-pw',
    cn: 'Alice Liddell',
    sn: 'Liddell',
    givenName: 'Alice',
    mail: 'alice@example.org',
  },
  {
    uid: 'bob',
    password: 'bob-ldap-pw',
    cn: 'Bob Builder',
    sn: 'Builder',
    givenName: 'Bob',
    mail: 'bob@example.org',
  },
  {
    uid: 'carol',
    password: 'carol-ldap-pw',
    cn: 'Carol Danvers',
    sn: 'Danvers',
    givenName: 'Carol',
    mail: 'carol@example.org',
  },
];

/** alice is in staff directly, bob through admins (nested), carol only in auditors. */
export const DEFAULT_GROUPS: readonly LdapGroup[] = [
  { cn: 'staff', members: ['alice', 'group:admins'] },
  { cn: 'admins', members: ['bob'] },
  { cn: 'auditors', members: ['carol'] },
];

const BASE_DN = 'dc=example,dc=org';
const PEOPLE_DN = `ou=people,${BASE_DN}`;
const GROUPS_DN = `ou=groups,${BASE_DN}`;
const SYSTEM_DN = `ou=system,${BASE_DN}`;
const ROOT_DN = `cn=admin,${BASE_DN}`;
const SERVICE_DN = `cn=svc,${SYSTEM_DN}`;

/** An attribute value as an RDN value (RFC 4514 escaping). */
export const escapeDnValue = (value: string): string =>
  value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
    .replace(/\0/g, '\\00');

const userDn = (uid: string) => `uid=${escapeDnValue(uid)},${PEOPLE_DN}`;
const groupDn = (cn: string) => `cn=${escapeDnValue(cn)},${GROUPS_DN}`;

/** {SSHA}: what slappasswd makes, so the directory never holds a password in clear. */
const ssha = (password: string): string => {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
};

const userEntry = (u: LdapUser): Record<string, string | string[]> => ({
  objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
  uid: u.uid,
  cn: u.cn ?? u.uid,
  sn: u.sn ?? u.uid,
  ...(u.givenName ? { givenName: u.givenName } : {}),
  ...(u.mail ? { mail: u.mail } : {}),
  ...(u.password ? { userPassword: ssha(u.password) } : {}),
});

const groupEntry = (g: LdapGroup): Record<string, string | string[]> => {
  const members = g.members.map((m) => (m.startsWith('group:') ? groupDn(m.slice(6)) : userDn(m)));
  // groupOfNames must have a member: an empty group holds the rootdn as a placeholder.
  return {
    objectClass: ['top', 'groupOfNames'],
    cn: g.cn,
    member: members.length > 0 ? members : [ROOT_DN],
  };
};

// ---------------------------------------------------------------------------------------------
// The server

export type Slapd = {
  /** ldap://127.0.0.1:port */
  readonly url: string;
  /** ldaps://127.0.0.1:port, certificate signed by caPem, for 127.0.0.1 and localhost. */
  readonly ldapsUrl: string;
  readonly caPem: string;
  readonly caFile: string;
  readonly baseDn: string;
  readonly peopleDn: string;
  readonly groupsDn: string;
  readonly serviceDn: string;
  readonly servicePassword: string;
  readonly rootDn: string;
  readonly rootPassword: string;
  readonly dir: string;
  /** uid=<uid>,ou=people,dc=example,dc=org */
  userDn(uid: string): string;
  /** cn=<cn>,ou=groups,dc=example,dc=org */
  groupDn(cn: string): string;
  /** Kills the server and waits until it has exited: its ports refuse connections. */
  stop(): Promise<void>;
  /** Starts it again on the same ports with the same data. */
  start(): Promise<void>;
  /** Stops the server and deletes its folder. */
  close(): Promise<void>;
  addUser(user: LdapUser): Promise<void>;
  addGroup(group: LdapGroup): Promise<void>;
  /** Replaces the user's password; an empty one removes userPassword. */
  setPassword(uid: string, password: string): Promise<void>;
  /** The entry's entryUUID (RFC 4530), stable across renames. */
  entryUUID(uid: string): Promise<string>;
  /** Deletes the user's entry (group member values naming it stay: slapd has no refint here). */
  deleteUser(uid: string): Promise<void>;
  /** What slapd wrote on stderr so far. */
  stderr(): string;
};

const running = new Set<ChildProcess>();
const folders = new Set<string>();
let exitHookInstalled = false;
const cleanUp = () => {
  for (const c of running) c.kill('SIGKILL');
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
};
const installExitHook = () => {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', cleanUp);
  // A test process ended by a signal (the runner's timeout, Ctrl-C) fires no 'exit': kill the
  // servers, then die of the same signal as if no one had listened.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
    process.once(signal, () => {
      cleanUp();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
};

/** Kills `child` (SIGKILL) if it still runs when this test process exits or is signalled. */
export const killOnExit = (child: ChildProcess) => {
  installExitHook();
  running.add(child);
  child.once('exit', () => running.delete(child));
};

/** Deletes `dir` when this test process exits, unless removeFolder() deleted it first. */
export const removeOnExit = (dir: string) => {
  installExitHook();
  folders.add(dir);
};

/** Deletes `dir` now, and no more at exit. */
export const removeFolder = (dir: string) => {
  folders.delete(dir);
  rmSync(dir, { recursive: true, force: true });
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const writeConfig = (dir: string, pki: Pki, rootPassword: string): string => {
  const file = join(dir, 'slapd.conf');
  writeFileSync(
    file,
    `${[
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      `modulepath ${MODULE_DIR}`,
      'moduleload back_mdb',
      `TLSCACertificateFile ${pki.caFile}`,
      `TLSCertificateFile ${pki.certFile}`,
      `TLSCertificateKeyFile ${pki.keyFile}`,
      'database mdb',
      'maxsize 16777216',
      `suffix "${BASE_DN}"`,
      `rootdn "${ROOT_DN}"`,
      `rootpw ${ssha(rootPassword)}`,
      `directory ${join(dir, 'db')}`,
      'index objectClass eq',
      'index uid,cn,member eq',
      'access to attrs=userPassword',
      '  by anonymous auth',
      '  by * none',
      'access to *',
      `  by dn.exact="${SERVICE_DN}" read`,
      '  by self read',
      '  by anonymous auth',
      '  by * none',
    ].join('\n')}\n`,
  );
  return file;
};

/** True when an anonymous read of the root DSE answers (slapd is serving). */
const answers = async (url: string): Promise<boolean> => {
  const client = new Client({ url, connectTimeout: 500, timeout: 1000 });
  try {
    await client.search('', { scope: 'base', attributes: ['namingContexts'] });
    return true;
  } catch {
    return false;
  } finally {
    await client.unbind().catch(() => {});
  }
};

export const startSlapd = async (
  options: { users?: LdapUser[]; groups?: LdapGroup[] } = {},
): Promise<Slapd> => {
  const missing = slapdMissing();
  if (missing) throw new Error(missing);
  const dir = tempDir('slapd');
  removeOnExit(dir);
  mkdirSync(join(dir, 'db'));
  mkdirSync(join(dir, 'pki'));
  const pki = makePki(join(dir, 'pki'));
  const rootPassword = randomBytes(12).toString('base64url');
  const servicePassword = randomBytes(12).toString('base64url');
  const config = writeConfig(dir, pki, rootPassword);
  let ports = { ldap: await freePort(), ldaps: await freePort() };
  let child: ChildProcess | undefined;
  let err = '';
  const url = () => `ldap://127.0.0.1:${ports.ldap}`;

  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  // One try: resolves true once slapd answers; false when it exited (a port taken).
  const launch = async (): Promise<boolean> => {
    err = '';
    const args = [
      '-d',
      '0',
      '-f',
      config,
      '-h',
      `ldap://127.0.0.1:${ports.ldap}/ ldaps://127.0.0.1:${ports.ldaps}/`,
    ];
    // setpriv execs slapd (the child is still the server) with a parent-death signal: killed
    // with the test process even when that one is SIGKILLed and no exit hook runs.
    const c = existsSync(SETPRIV)
      ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', SLAPD, ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : spawn(SLAPD, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    killOnExit(c);
    c.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) {
        child = undefined;
        return false;
      }
      if (await answers(url())) return true;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`slapd did not answer on ${url()} within 10 s:\n${err}`);
      }
      await sleep(25);
    }
  };

  const isPortTaken = () => /bind|address already in use|errno=98/i.test(err);

  const start = async (samePorts: boolean) => {
    for (let attempt = 1; ; attempt++) {
      if (await launch()) return;
      // A port taken: on restart it is ours from before and will free; at first start another
      // process took it between freePort() and slapd's bind, so take others.
      if (!isPortTaken() || attempt >= 8)
        throw new Error(`slapd exited (${attempt} tries) on ${url()}:\n${err}`);
      if (!samePorts) ports = { ldap: await freePort(), ldaps: await freePort() };
      await sleep(100 * attempt);
    }
  };

  const asRoot = async <T>(f: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ url: url(), timeout: 5000, connectTimeout: 2000 });
    try {
      await client.bind(ROOT_DN, rootPassword);
      return await f(client);
    } finally {
      await client.unbind().catch(() => {});
    }
  };

  await start(false);
  try {
    await asRoot(async (client) => {
      await client.add(BASE_DN, {
        objectClass: ['top', 'dcObject', 'organization'],
        dc: 'example',
        o: 'Example',
      });
      for (const ou of ['people', 'groups', 'system'])
        await client.add(`ou=${ou},${BASE_DN}`, { objectClass: ['top', 'organizationalUnit'], ou });
      await client.add(SERVICE_DN, {
        objectClass: ['top', 'applicationProcess', 'simpleSecurityObject'],
        cn: 'svc',
        userPassword: ssha(servicePassword),
      });
      for (const u of options.users ?? DEFAULT_USERS) await client.add(userDn(u.uid), userEntry(u));
      for (const g of options.groups ?? (options.users ? [] : DEFAULT_GROUPS))
        await client.add(groupDn(g.cn), groupEntry(g));
    });
  } catch (e) {
    await stop();
    removeFolder(dir);
    throw e;
  }

  return {
    get url() {
      return url();
    },
    get ldapsUrl() {
      return `ldaps://127.0.0.1:${ports.ldaps}`;
    },
    caPem: pki.caPem,
    caFile: pki.caFile,
    baseDn: BASE_DN,
    peopleDn: PEOPLE_DN,
    groupsDn: GROUPS_DN,
    serviceDn: SERVICE_DN,
    servicePassword,
    rootDn: ROOT_DN,
    rootPassword,
    dir,
    userDn,
    groupDn,
    stop,
    start: async () => {
      if (child) return;
      await start(true);
    },
    close: async () => {
      await stop();
      removeFolder(dir);
    },
    addUser: (user) => asRoot((c) => c.add(userDn(user.uid), userEntry(user))),
    addGroup: (group) => asRoot((c) => c.add(groupDn(group.cn), groupEntry(group))),
    setPassword: (uid, password) =>
      asRoot((c) =>
        c.modify(
          userDn(uid),
          // Replace with no value removes the attribute: a user who cannot bind.
          new Change({
            operation: 'replace',
            modification: new Attribute({
              type: 'userPassword',
              values: password ? [ssha(password)] : [],
            }),
          }),
        ),
      ),
    entryUUID: (uid) =>
      asRoot(async (c) => {
        const { searchEntries } = await c.search(userDn(uid), {
          scope: 'base',
          attributes: ['entryUUID'],
        });
        const value = searchEntries[0]?.entryUUID;
        if (typeof value !== 'string') throw new Error(`no entryUUID for ${uid}`);
        return value;
      }),
    deleteUser: (uid) => asRoot((c) => c.del(userDn(uid))),
    stderr: () => err,
  };
};
