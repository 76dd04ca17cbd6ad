// A real Active Directory domain controller (Samba, Debian packages samba, samba-ad-provision,
// samba-dsdb-modules, winbind) for the tests of LDAP authentication against AD: the answers to
// binds (sub-codes 52e, 533, 701, 773, 775), userPrincipalName binds, nested groups and
// objectGUID come from an AD implementation we did not write.
//
// It runs here (Debian 12, Samba 4.17.12-Debian, as root, no systemd; observed 2026-12-05 on 2
// cores): `samba-tool domain provision --realm=CORP.EXAMPLE --domain=CORP --server-role=dc
// --dns-backend=NONE --use-rfc2307 --host-name=DC1 --targetdir=…` takes 7-9 s and 33 MB, so the
// provisioned domain is kept as a template in the system temp folder (per Samba version, lockout
// threshold already set) and each DC is a copy of it. `samba -i -M single -s <smb.conf>` (the
// child is the server; only `server services = ldap`: no smbd, KDC, DNS or replication) answers
// in 0.4-0.7 s with our certificate (3.5 s when it generates its own); SIGTERM stops it in well
// under a second (about 2 s with all services). The LDAP ports are fixed (389, 636: smb.conf has
// no option for them), so each DC takes a loopback address of its own, 127.0.0.N, which Linux
// routes without configuration; and tests must run as root. Users, groups and account states are
// changed with samba-tool on the DC's own sam.ldb (`-s smb.conf -H private/sam.ldb`) while it
// runs: about 0.45 s per call (Python). samba-tool over `-H ldap://` does not work here: it
// authenticates with NTLM/Kerberos and, with no KDC running, fails with data 51f.
//
// What the DC answers to simple binds (ldapts, bind DN name@corp.example, resultCode 49
// invalidCredentials each time; recorded in test/support/ad-recorded-answers.json):
//   wrong password     80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1
//   disabled           … data 533, v1db1  (samba-tool user disable)
//   account expired    … data 701, v1db1  (samba-tool user setexpiry --days=0)
//   must change        … data 773, v1db1  (samba-tool user create --must-change-at-next-login)
//   locked out         … data 775, v1db1  (3 wrong binds with --account-lockout-threshold=3;
//                      the right password then answers 775 too)
//   ok                 resultCode 0, no message
// Only the right password reveals a state: a disabled, expired or must-change account with a
// wrong password answers 52e, as does an unknown user, a bare sAMAccountName as bind DN, and an
// empty password. The last differs from Windows AD, where a DN with an empty password is an
// unauthenticated bind that succeeds (RFC 4513 5.1.2) unless dsHeuristics forbids it: a test of
// empty-password handling cannot rely on Samba to catch the mistake. Windows AD's messages name
// another DSID and version (e.g. DSID-0C09044E … v4563) and end in a NUL byte; Samba's do not.
// ldapts appends " Code: 0x31" to the message in its errors (diagnosticMessage() takes it off).
// With Samba's default `ldap server require strong auth = yes`, a simple bind over plain LDAP
// answers resultCode 8 "BindSimple: Transport encryption required."; this DC sets it to no, so
// tests can bind on both ldap:// and ldaps://. Binds as CORP\name and by DN work too. Nested
// groups: the member:1.2.840.113556.1.4.1941: (in chain) filter works as on Windows.
// Where Samba is not installed or tests do not run as root, sambaMissing() says so and tests
// skip with that reason; the recorded answers stand in for the server there.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { tempDir } from './process.ts';
import { killOnExit, makePki, removeFolder, removeOnExit, slapdMissing } from './slapd.ts';

const SAMBA = '/usr/sbin/samba';
const SAMBA_TOOL = '/usr/bin/samba-tool';
const PROVISION_SETUP = '/usr/share/samba/setup';

export const REALM = 'CORP.EXAMPLE';
export const NETBIOS_DOMAIN = 'CORP';
export const UPN_SUFFIX = 'corp.example';
const BASE_DN = 'DC=corp,DC=example';
const ADMIN_DN = `CN=Administrator,CN=Users,${BASE_DN}`;
/** Provisioned into the cached template: a test secret, never a real one. */
const ADMIN_PASSWORD = 'Authlog-Test-Adm1n!';
export const LOCKOUT_THRESHOLD = 3;

const run = promisify(execFile);

const sambaVersion = (): string | undefined => {
  try {
    return execFileSync(SAMBA, ['-V'], { encoding: 'utf8' })
      .trim()
      .replace(/^Version\s+/, '');
  } catch {
    return undefined;
  }
};

/** Why a Samba AD DC cannot run here (printed as the reason a test is skipped), or undefined. */
export const sambaMissing = (): string | undefined => {
  if (!existsSync(SAMBA) || !existsSync(SAMBA_TOOL))
    return 'Samba not installed (Debian packages samba, samba-ad-provision, samba-dsdb-modules, winbind)';
  if (!existsSync(PROVISION_SETUP))
    return `no Samba provisioning data in ${PROVISION_SETUP} (Debian package samba-ad-provision)`;
  if (process.getuid?.() !== 0)
    return 'a Samba AD DC listens on ports 389 and 636 (not configurable): tests must run as root';
  if (!sambaVersion()) return `${SAMBA} -V fails: Samba is not usable here`;
  // Certificates are made with the openssl CLI, as for slapd.
  const noOpenssl = slapdMissing();
  if (noOpenssl?.includes('openssl')) return noOpenssl;
  return undefined;
};

// ---------------------------------------------------------------------------------------------
// The provisioned template, cached between runs

const templateDir = () =>
  join(
    tmpdir(),
    `authlog-samba-template-${(sambaVersion() ?? 'unknown').replace(/[^\w.-]/g, '_')}-v1`,
  );

/**
 * A provisioned domain (about 8.5 s on 2 cores), made once and kept in the system temp folder:
 * each DC is a copy of it. Two test processes provisioning at once each make their own and the
 * first rename wins.
 */
const template = async (): Promise<string> => {
  const dir = templateDir();
  if (existsSync(join(dir, 'ready'))) return dir;
  const work = `${dir}.tmp-${process.pid}-${Date.now()}`;
  removeOnExit(work);
  try {
    await run(
      SAMBA_TOOL,
      [
        'domain',
        'provision',
        `--realm=${REALM}`,
        `--domain=${NETBIOS_DOMAIN}`,
        '--server-role=dc',
        '--dns-backend=NONE',
        '--use-rfc2307',
        '--host-name=DC1',
        `--adminpass=${ADMIN_PASSWORD}`,
        `--targetdir=${work}`,
        '--option=interfaces=lo',
        '--option=bind interfaces only=yes',
      ],
      { timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
    );
    await run(SAMBA_TOOL, [
      'domain',
      'passwordsettings',
      'set',
      `--account-lockout-threshold=${LOCKOUT_THRESHOLD}`,
      '-s',
      join(work, 'etc/smb.conf'),
      '-H',
      join(work, 'private/sam.ldb'),
    ]);
    writeFileSync(join(work, 'ready'), '');
    try {
      renameSync(work, dir);
    } catch {
      // Another process finished first: its template is as good as ours.
      if (!existsSync(join(dir, 'ready'))) throw new Error(`cannot make ${dir}`);
    }
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`samba-tool domain provision failed: ${err.message}\n${err.stderr ?? ''}`);
  } finally {
    removeFolder(work);
  }
  return dir;
};

// ---------------------------------------------------------------------------------------------
// The server

export type SambaUserOptions = {
  /** userAccountControl ACCOUNTDISABLE: binds answer data 533. */
  disabled?: boolean;
  /** pwdLastSet 0: binds answer data 773. */
  mustChange?: boolean;
  /** accountExpires now: binds answer data 701. */
  expired?: boolean;
};

export type SambaDc = {
  /** ldap://127.0.0.N (port 389); simple binds allowed in clear (ldap server require strong
   * auth = no), as on a DC configured for legacy clients. */
  readonly url: string;
  /** ldaps://127.0.0.N (port 636), certificate signed by caPem, for 127.0.0.N. */
  readonly ldapsUrl: string;
  readonly caPem: string;
  readonly caFile: string;
  /** DC=corp,DC=example */
  readonly baseDn: string;
  /** CORP.EXAMPLE */
  readonly realm: string;
  /** CORP: binds as CORP\name work too. */
  readonly netbiosDomain: string;
  /** corp.example: users bind as name@corp.example (their userPrincipalName). */
  readonly upnSuffix: string;
  readonly adminDn: string;
  readonly adminPassword: string;
  readonly lockoutThreshold: number;
  readonly dir: string;
  /** CN=<name>,CN=Users,DC=corp,DC=example (where samba-tool creates users and groups). */
  userDn(name: string): string;
  /** name@corp.example */
  upn(name: string): string;
  /** Kills the DC and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again (same address, same data). */
  start(): Promise<void>;
  /** Stops the DC and deletes its folder. */
  close(): Promise<void>;
  /** The password must meet AD complexity: 7+ characters, 3 of 4 classes, not the name. */
  createUser(name: string, password: string, opts?: SambaUserOptions): Promise<void>;
  disableUser(name: string): Promise<void>;
  createGroup(name: string): Promise<void>;
  /** Adds a user or group (by sAMAccountName) to a group. */
  addToGroup(group: string, member: string): Promise<void>;
  /** objectGUID in its usual string form (the first three fields little-endian). */
  objectGUID(name: string): Promise<string>;
  /** Wrong-password binds until the account is locked out (answers data 775). */
  lockOut(name: string): Promise<void>;
  /** What samba printed so far. */
  output(): string;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const canListen = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });

/** A loopback address (127.0.0.2-254) whose LDAP ports are free: DCs of two test files at once
 * each have their own, since the ports are fixed. */
const freeLoopback = async (): Promise<string> => {
  for (let i = 0; i < 50; i++) {
    const host = `127.0.0.${2 + Math.floor(Math.random() * 253)}`;
    if ((await canListen(host, 389)) && (await canListen(host, 636))) return host;
  }
  throw new Error('no loopback address with ports 389 and 636 free');
};

const smbConf = (dir: string, host: string, pki: ReturnType<typeof makePki>) =>
  `${[
    '[global]',
    '  netbios name = DC1',
    `  realm = ${REALM}`,
    `  workgroup = ${NETBIOS_DOMAIN}`,
    '  server role = active directory domain controller',
    // Only the LDAP server: no smbd, no KDC, no DNS, no replication.
    '  server services = ldap',
    `  interfaces = ${host}/8`,
    '  bind interfaces only = yes',
    '  idmap_ldb:use rfc2307 = yes',
    '  ldap server require strong auth = no',
    '  tls enabled = yes',
    `  tls keyfile = ${pki.keyFile}`,
    `  tls certfile = ${pki.certFile}`,
    `  tls cafile = ${pki.caFile}`,
    `  private dir = ${join(dir, 'private')}`,
    `  state directory = ${join(dir, 'state')}`,
    `  cache directory = ${join(dir, 'cache')}`,
    `  lock directory = ${dir}`,
    `  pid directory = ${join(dir, 'run')}`,
    `  ncalrpc dir = ${join(dir, 'run/ncalrpc')}`,
    `  binddns dir = ${join(dir, 'bind-dns')}`,
    `  winbindd socket directory = ${join(dir, 'run/winbindd')}`,
    '  logging = file',
    `  log file = ${join(dir, 'log.%m')}`,
  ].join('\n')}\n`;

/** AD's GUID string: Data1, Data2 and Data3 are little-endian in the 16 bytes. */
const guidString = (b: Buffer): string => {
  const hex = (x: Buffer) => x.toString('hex');
  const rev = (start: number, end: number) => hex(Buffer.from(b.subarray(start, end)).reverse());
  return `${rev(0, 4)}-${rev(4, 6)}-${rev(6, 8)}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
};

export const startSambaDc = async (): Promise<SambaDc> => {
  const missing = sambaMissing();
  if (missing) throw new Error(missing);
  const source = await template();
  const dir = tempDir('samba');
  removeOnExit(dir);
  execFileSync('cp', ['-a', `${source}/.`, dir]);
  for (const d of ['run', 'cache', 'pki']) mkdirSync(join(dir, d), { recursive: true });
  const host = await freeLoopback();
  const pki = makePki(join(dir, 'pki'), { ips: [host], dns: ['dc1.corp.example'] });
  const conf = join(dir, 'etc/smb.conf');
  writeFileSync(conf, smbConf(dir, host, pki));
  const sam = join(dir, 'private/sam.ldb');
  const url = `ldap://${host}`;
  let child: ChildProcess | undefined;
  let out = '';

  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    // Only the LDAP service runs: samba stops in well under a second (about 2 s with all its
    // services); a test DC's data is not worth waiting longer than 3 s for.
    const timer = setTimeout(() => c.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  const start = async () => {
    if (child) return;
    out = '';
    // -i with stdin a pipe: samba ends at EOF on stdin, so when the test process dies, even by
    // SIGKILL (with stdin /dev/null it would not). --no-process-group: in our process group,
    // a Ctrl-C reaches it too.
    const c = spawn(SAMBA, ['-i', '--no-process-group', '-M', 'single', '-s', conf], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child = c;
    killOnExit(c);
    const collect = (d: Buffer) => {
      out += d.toString();
    };
    c.stdout?.on('data', collect);
    c.stderr?.on('data', collect);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) {
        child = undefined;
        throw new Error(`samba exited (${c.exitCode ?? c.signalCode}):\n${out}`);
      }
      const probe = new Client({ url, connectTimeout: 500, timeout: 2000 });
      try {
        await probe.search('', { scope: 'base', attributes: ['defaultNamingContext'] });
        return;
      } catch {
        // not yet
      } finally {
        await probe.unbind().catch(() => {});
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`samba did not answer on ${url} within 30 s:\n${out}`);
      }
      await sleep(50);
    }
  };

  // samba-tool on the DC's own database, as an administrator on the DC itself would: no
  // Kerberos or NTLM needed (this DC runs no KDC), the running server sees the changes.
  const tool = async (...args: string[]) => {
    try {
      await run(SAMBA_TOOL, [...args, '-s', conf, '-H', sam], { timeout: 60_000 });
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string };
      throw new Error(`samba-tool ${args.join(' ')}: ${err.stderr || err.stdout || err.message}`);
    }
  };

  const asAdmin = async <T>(f: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ url, timeout: 5000, connectTimeout: 2000 });
    try {
      await client.bind(ADMIN_DN, ADMIN_PASSWORD);
      return await f(client);
    } finally {
      await client.unbind().catch(() => {});
    }
  };

  try {
    await start();
  } catch (e) {
    removeFolder(dir);
    throw e;
  }

  const upn = (name: string) => `${name}@${UPN_SUFFIX}`;
  return {
    url,
    ldapsUrl: `ldaps://${host}`,
    caPem: pki.caPem,
    caFile: pki.caFile,
    baseDn: BASE_DN,
    realm: REALM,
    netbiosDomain: NETBIOS_DOMAIN,
    upnSuffix: UPN_SUFFIX,
    adminDn: ADMIN_DN,
    adminPassword: ADMIN_PASSWORD,
    lockoutThreshold: LOCKOUT_THRESHOLD,
    dir,
    userDn: (name) => `CN=${name},CN=Users,${BASE_DN}`,
    upn,
    stop,
    start,
    close: async () => {
      await stop();
      removeFolder(dir);
    },
    createUser: async (name, password, opts = {}) => {
      await tool(
        'user',
        'create',
        name,
        password,
        ...(opts.mustChange ? ['--must-change-at-next-login'] : []),
      );
      if (opts.disabled) await tool('user', 'disable', name);
      if (opts.expired) await tool('user', 'setexpiry', name, '--days=0');
    },
    disableUser: (name) => tool('user', 'disable', name),
    createGroup: (name) => tool('group', 'add', name),
    addToGroup: (group, member) => tool('group', 'addmembers', group, member),
    objectGUID: (name) =>
      asAdmin(async (c) => {
        const { searchEntries } = await c.search(BASE_DN, {
          filter: `(sAMAccountName=${name.replace(/[\\*()\0]/g, (x) => `\\${x.charCodeAt(0).toString(16).padStart(2, '0')}`)})`,
          attributes: ['objectGUID'],
          explicitBufferAttributes: ['objectGUID'],
        });
        const value = searchEntries[0]?.objectGUID;
        if (!Buffer.isBuffer(value)) throw new Error(`no objectGUID for ${name}`);
        return guidString(value);
      }),
    lockOut: async (name) => {
      for (let i = 0; i < LOCKOUT_THRESHOLD; i++) {
        const client = new Client({ url, timeout: 5000 });
        await client.bind(upn(name), 'not-the-password').catch(() => {});
        await client.unbind().catch(() => {});
      }
    },
    output: () => out,
  };
};

// ---------------------------------------------------------------------------------------------
// Recorded answers

export type AdAnswerCase =
  | 'wrong-password'
  | 'disabled'
  | 'expired'
  | 'must-change'
  | 'locked'
  | 'ok';

export type AdAnswer = {
  case: AdAnswerCase;
  resultCode: number;
  /** The bind response's diagnosticMessage as the server sent it ('' for success). */
  message: string;
  source: string;
};

/** ldapts appends " Code: 0x31" to the server's diagnosticMessage: this takes it off again. */
export const diagnosticMessage = (e: unknown): { resultCode: number; message: string } => {
  const err = e as Error & { code?: unknown };
  if (typeof err.code !== 'number') throw e;
  return { resultCode: err.code, message: err.message.replace(/ ?Code: 0x[0-9a-f]+$/, '') };
};

/**
 * What the DC answers to a simple bind (by userPrincipalName, over plain LDAP) in each case of
 * test/support/ad-recorded-answers.json: one new user per case, whose names start with `prefix`.
 */
export const recordAdAnswers = async (dc: SambaDc, prefix = 'rec'): Promise<AdAnswer[]> => {
  const password = 'Recorded-Answer-1!';
  const source = `samba ${sambaVersion()} on ${new Date().toISOString().slice(0, 10)}`;
  const cases: { case: AdAnswerCase; opts?: SambaUserOptions; bindWith?: string }[] = [
    { case: 'wrong-password', bindWith: 'Wrong-Password-1!' },
    { case: 'disabled', opts: { disabled: true } },
    { case: 'expired', opts: { expired: true } },
    { case: 'must-change', opts: { mustChange: true } },
    { case: 'locked' },
    { case: 'ok' },
  ];
  const answers: AdAnswer[] = [];
  for (const c of cases) {
    const name = `${prefix}-${c.case}`;
    await dc.createUser(name, password, c.opts);
    if (c.case === 'locked') await dc.lockOut(name);
    const client = new Client({ url: dc.url, timeout: 5000 });
    try {
      await client.bind(dc.upn(name), c.bindWith ?? password);
      answers.push({ case: c.case, resultCode: 0, message: '', source });
    } catch (e) {
      answers.push({ case: c.case, ...diagnosticMessage(e), source });
    } finally {
      await client.unbind().catch(() => {});
    }
  }
  return answers;
};
