// The server side of bench:login, in a child process of its own (as bench:authz does), so the
// load generator shares neither its event loop nor its libuv threadpool with the server. It
// makes BENCH_USERS principals with a password, serves the real app (production logger level,
// every hook; the rate limits raised, since all the load comes from one address) on a node as
// `authlog serve` runs one: a store file appended with synchronous=FULL (every login's events
// fsynced before the answer) and a read-model file, in a scratch folder removed at the end. On
// the parent's request it times raw argon2id verifications with the same parameters and the
// same concurrency in this same process: the same threadpool (UV_THREADPOOL_SIZE, 4 by default)
// the login route's argon2 runs in.
import * as argon2 from 'argon2';
import { Client } from 'ldapts';
import pino from 'pino';
import { defineCredentialDirectory, setPassword } from '../../src/authn/credentials.ts';
import { ARGON2_FLOOR, hashPassword } from '../../src/authn/passwords.ts';
import { registerPrincipal } from '../../src/authn/principals.ts';
import { DirectoryService } from '../../src/directories/service.ts';
import { SYSTEM_ACTOR } from '../../src/events/envelope.ts';
import { buildApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/http/logging.ts';
import { newId } from '../../src/node/node.ts';
import { stopNode } from '../../test/support/in-process.ts';
import { type Slapd, slapdMissing, startSlapd } from '../../test/support/slapd.ts';
import { ldapUserName, OPERATOR_TOKEN, PASSWORD, userName } from './login-model.ts';
import { startDurableNode } from './ours.ts';
import { type PasskeySample, rawAssertions } from './passkeys.ts';
import { envInt, note, scratchDir } from './util.ts';

export type ServerMessage =
  | { type: 'listening'; url: string; params: string }
  /** The LDAP row's directory is ready (or why it cannot run here). */
  | { type: 'ldap'; ready: boolean; reason?: string }
  | { type: 'binds'; binds: number; ms: number }
  | { type: 'raw'; verifications: number; ms: number }
  | { type: 'passkey-raw'; verifications: number; ms: number }
  /** CPU time of this whole process so far (every thread: argon2's pool too), in ms. */
  | { type: 'usage'; cpuMs: number };
export type ParentMessage =
  | { type: 'raw'; seconds: number; concurrency: number }
  /** Raw verifyAuthenticationResponse of these assertions (the passkey row). */
  | { type: 'passkey-raw'; seconds: number; concurrency: number; samples: PasskeySample[] }
  | { type: 'ldap'; users: number }
  /** Raw binds with ldapts: on one kept connection per loop, or a new LDAPS connection each. */
  | { type: 'binds'; seconds: number; concurrency: number; connect: boolean }
  | { type: 'usage' }
  | { type: 'stop' };

const send = (m: ServerMessage) => process.send?.(m);

/** `concurrency` loops of argon2.verify for `seconds`: verifications completed and the time. */
const rawVerifications = async (phc: string, seconds: number, concurrency: number) => {
  const started = performance.now();
  const until = started + seconds * 1000;
  let n = 0;
  const loop = async () => {
    while (performance.now() < until) {
      if (!(await argon2.verify(phc, PASSWORD))) throw new Error('raw verification failed');
      n += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { verifications: n, ms: performance.now() - started };
};

/** `concurrency` loops of ldapts binds as the LDAP row's users for `seconds`: on a connection each
 * loop keeps (what a pool does), or connect, bind, unbind each time (an application without one). */
const rawBinds = async (
  slapd: Slapd,
  users: number,
  m: Extract<ParentMessage, { type: 'binds' }>,
) => {
  const started = performance.now();
  const until = started + m.seconds * 1000;
  let n = 0;
  const open = () => new Client({ url: slapd.ldapsUrl, tlsOptions: { ca: [slapd.caPem] } });
  const loop = async (k: number) => {
    let client = open();
    let i = k;
    while (performance.now() < until) {
      if (m.connect) client = open();
      await client.bind(slapd.userDn(ldapUserName(i++ % users)), PASSWORD);
      if (m.connect) await client.unbind();
      n += 1;
    }
    await client.unbind();
  };
  await Promise.all(Array.from({ length: m.concurrency }, (_, k) => loop(k)));
  return { binds: n, ms: performance.now() - started };
};

const main = async () => {
  const users = envInt('BENCH_USERS', 500);
  const scratch = scratchDir();
  const node = await startDurableNode(
    scratch.file('store.sqlite'),
    scratch.file('readmodel.sqlite'),
  );
  // Every user gets its own principal, identity and credential; they share one hash (its salt
  // changes nothing in the cost of a verification, and hashing 500 passwords would only slow
  // the set-up).
  const phc = await hashPassword(PASSWORD, ARGON2_FLOOR);
  note(`setting up ${users} users with a password (argon2id ${phc.split('$')[3]})`);
  const meta = { actor: SYSTEM_ACTOR };
  for (let i = 0; i < users; i++) {
    const principalId = newId();
    await node.execute(
      registerPrincipal({
        principalId,
        kind: 'person',
        briefName: userName(i),
        identity: { identityId: newId(), name: userName(i) },
      }),
      meta,
    );
    await node.execute(setPassword({ credentialId: newId(), principalId, hash: phc }), meta);
  }
  const directories = new DirectoryService({
    env: (name) =>
      name === 'AUTHLOG_LDAP_BENCH_BIND_PASSWORD' ? slapd?.servicePassword : undefined,
    offlineCachePath: ':memory:',
    argon2: ARGON2_FLOOR,
  });
  let slapd: Slapd | undefined;
  let ldapUsers = 0;
  const app = buildApp({
    node,
    directories,
    operatorToken: OPERATOR_TOKEN,
    logger: createLogger(
      process.env.BENCH_LOG_LEVEL ?? 'info',
      pino.destination({ dest: '/dev/null', sync: true }),
    ),
    edge: {
      rateLimit: { max: 100_000_000, windowMs: 60_000 },
      authRateLimit: { max: 100_000_000, windowMs: 60_000 },
    },
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.on('message', async (message: ParentMessage) => {
    if (message.type === 'ldap') {
      const missing = slapdMissing();
      if (missing) {
        send({ type: 'ldap', ready: false, reason: missing });
        return;
      }
      ldapUsers = message.users;
      slapd = await startSlapd({
        users: Array.from({ length: ldapUsers }, (_, i) => ({
          uid: ldapUserName(i),
          password: PASSWORD,
          cn: ldapUserName(i),
        })),
      });
      await node.execute(
        defineCredentialDirectory({
          directoryId: 'bench',
          name: 'bench',
          kind: 'ldap',
          evidences: ['knowledge'],
          ldap: {
            urls: [slapd.ldapsUrl],
            caPem: slapd.caPem,
            bindDn: slapd.serviceDn,
            baseDn: slapd.peopleDn,
            identityDirectoryId: 'internal',
          },
        }),
        meta,
      );
      send({ type: 'ldap', ready: true });
    } else if (message.type === 'binds') {
      if (!slapd) throw new Error('no slapd');
      send({ type: 'binds', ...(await rawBinds(slapd, ldapUsers, message)) });
    } else if (message.type === 'raw') {
      send({ type: 'raw', ...(await rawVerifications(phc, message.seconds, message.concurrency)) });
    } else if (message.type === 'passkey-raw') {
      const { samples, seconds, concurrency } = message;
      send({
        type: 'passkey-raw',
        ...(await rawAssertions(node.read, samples, seconds, concurrency)),
      });
    } else if (message.type === 'usage') {
      const { user, system } = process.cpuUsage();
      send({ type: 'usage', cpuMs: (user + system) / 1000 });
    } else {
      await app.close();
      await directories.close();
      await slapd?.close();
      await stopNode(node);
      scratch.remove();
      process.disconnect();
    }
  });
  const p = ARGON2_FLOOR;
  send({ type: 'listening', url, params: `m=${p.memoryCost},t=${p.timeCost},p=${p.parallelism}` });
};

await main();
