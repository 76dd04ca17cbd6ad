// npm run bench:login — password logins/s end to end over HTTP (POST /v1/auth/login, bearer
// transport, the real app) next to raw argon2id verifications/s with the same parameters, the
// same concurrency and the same process (so the same libuv threadpool), in the same run.
// Target: logins at least 0.85 of raw, i.e. everything but the hash costs under 15 %. Printed
// next to Keycloak's sizing guide, which plans 15 password logins/s per vCPU.
//
// The server runs in a child process (bench/login-server.ts); this process only sends logins:
// BENCH_CONCURRENCY loops (default 8: twice the 4 threads argon2 runs on, so the pool is never
// idle while a request is parsed or written), each cycling over BENCH_USERS (500) distinct users
// so the per-account lockout and throttling never interfere. Raw and HTTP rounds alternate
// (BENCH_ROUNDS, 3 each, BENCH_SECONDS, 5 each) so a change in the machine's load hits both.
// The last line of output is one JSON object with the figures.
//
// What the ratio charges: on 2 cores the pool keeps both busy, so logins/s is 2 cores divided
// by the CPU one login costs everywhere on the machine: its argon2 verification, the server's
// main thread (HTTP, the login command, the fsynced append), and this load generator, which
// the raw side does not have. Around every round the server reports its CPU time (all threads)
// and this process measures its own; the output gives both per login and per raw verification,
// so the difference the ratio charges is visible. The client is the one a Node application uses
// for many requests to one service: node:http with a keep-alive Agent, one socket per loop.
// Global fetch spent about 2.9 ms of CPU per login here (WHATWG Request, Headers, streams and
// Response around undici) against about 1 ms, a client library's overhead the ratio would count
// as the server's. Every login is still a full HTTP/1.1 request over loopback TCP whose JSON
// answer is parsed and checked (200, a token, a complete session). On a loaded machine the ratio
// flatters logins: their rounds run more threads (pool, server, client) than the raw rounds (pool
// only), so they get a larger share of the contended cores; take figures from a quiet machine.

import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { forkServer } from './bench/child-server.ts';
import { ldapUserName, OPERATOR_TOKEN, PASSWORD, userName } from './bench/login-model.ts';
import type { ParentMessage, ServerMessage } from './bench/login-server.ts';
import { passkeyLogins, poster, samplesOf, setUpPasskeys } from './bench/passkeys.ts';
import { envInt, note, round } from './bench/util.ts';

const USERS = envInt('BENCH_USERS', 500);
const SECONDS = envInt('BENCH_SECONDS', 5);
const ROUNDS = envInt('BENCH_ROUNDS', 3);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 8);
const LDAP_USERS = envInt('BENCH_LDAP_USERS', 100);
const PASSKEY_USERS = envInt('BENCH_PASSKEY_USERS', 100);
/** Keycloak's sizing guide: 15 password-based logins per second per vCPU. */
const KEYCLOAK_PER_VCPU = 15;

const main = async () => {
  const { exited, next, tell } = forkServer<ServerMessage, ParentMessage>(
    new URL('./bench/login-server.ts', import.meta.url),
    { ...process.env, BENCH_USERS: String(USERS) },
  );

  const { url, params } = await next('listening');
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const login = (i: number, name = userName) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const body = JSON.stringify({
        identity: name(i),
        password: PASSWORD,
        transport: 'bearer',
      });
      const r = request(`${url}/v1/auth/login`, {
        agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      r.once('response', (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.once('end', () => resolve({ status: response.statusCode ?? 0, text }));
      });
      r.once('error', reject);
      r.end(body);
    });
  let cursor = 0;
  const logins = async (seconds: number, name = userName, users = USERS) => {
    const started = performance.now();
    const until = started + seconds * 1000;
    let ok = 0;
    let failed = 0;
    const loop = async () => {
      while (performance.now() < until) {
        const r = await login(cursor++ % users, name);
        const body = JSON.parse(r.text) as { token?: string; complete?: boolean };
        if (r.status === 200 && body.token && body.complete) ok += 1;
        else failed += 1;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    return { ok, failed, ms: performance.now() - started };
  };
  const raw = async (seconds: number) => {
    tell({ type: 'raw', seconds, concurrency: CONCURRENCY });
    return next('raw');
  };
  const serverCpuMs = async () => {
    tell({ type: 'usage' });
    return (await next('usage')).cpuMs;
  };
  /** Runs a round; adds the server's and this process's CPU time to `cpu`. */
  const measured = async <T>(cpu: { server: number; client: number }, round: () => Promise<T>) => {
    const server = await serverCpuMs();
    const client = process.cpuUsage();
    const result = await round();
    const { user, system } = process.cpuUsage(client);
    cpu.server += (await serverCpuMs()) - server;
    cpu.client += (user + system) / 1000;
    return result;
  };

  note(`warming up (argon2id ${params}, concurrency ${CONCURRENCY}, ${USERS} users)`);
  await raw(1);
  await logins(1);
  const rawRates: number[] = [];
  const loginRates: number[] = [];
  let failures = 0;
  let verified = 0;
  let loggedIn = 0;
  const rawCpu = { server: 0, client: 0 };
  const loginCpu = { server: 0, client: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const a = await measured(rawCpu, () => raw(SECONDS));
    rawRates.push((a.verifications * 1000) / a.ms);
    verified += a.verifications;
    const b = await measured(loginCpu, () => logins(SECONDS));
    loginRates.push((b.ok * 1000) / b.ms);
    loggedIn += b.ok;
    failures += b.failed;
    note(
      `round ${r + 1}: raw argon2id ${round(rawRates.at(-1)!, 1)} verifications/s, HTTP ${round(loginRates.at(-1)!, 1)} logins/s${b.failed ? ` (${b.failed} failed)` : ''}`,
    );
  }
  // The LDAP row: the same logins for accounts of a real slapd (LDAPS, a service account's search
  // by entryUUID and a bind per login, JIT-provisioned in the warm-up), against raw ldapts binds
  // as the same users in the server's process: on a connection each loop keeps (the strict
  // baseline: a bind and nothing else), and connect-bind-unbind per login (an application that
  // binds for itself without a pool). Alternating rounds, as above.
  tell({ type: 'ldap', users: LDAP_USERS });
  const ldapReady = await next('ldap');
  let ldap: Record<string, unknown> = { skipped: ldapReady.reason ?? 'not ready' };
  if (ldapReady.ready) {
    note(`LDAP row: ${LDAP_USERS} slapd accounts, provisioning them with a first login`);
    for (let i = 0; i < LDAP_USERS; i++) {
      const r = await login(i, ldapUserName);
      if (r.status !== 200) throw new Error(`LDAP warm-up login ${i}: ${r.status} ${r.text}`);
    }
    const binds = async (connect: boolean) => {
      tell({ type: 'binds', seconds: SECONDS, concurrency: CONCURRENCY, connect });
      const b = await next('binds');
      return (b.binds * 1000) / b.ms;
    };
    const kept: number[] = [];
    const fresh: number[] = [];
    const ldapLogins: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      kept.push(await binds(false));
      fresh.push(await binds(true));
      const b = await logins(SECONDS, ldapUserName, LDAP_USERS);
      ldapLogins.push((b.ok * 1000) / b.ms);
      failures += b.failed;
      note(
        `LDAP round ${r + 1}: raw binds ${round(kept.at(-1)!, 1)}/s on kept connections, ${round(fresh.at(-1)!, 1)}/s connecting each time; LDAP logins over HTTP ${round(ldapLogins.at(-1)!, 1)}/s${b.failed ? ` (${b.failed} failed)` : ''}`,
      );
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [k, f, l] = [median(kept), median(fresh), median(ldapLogins)];
    note(
      `LDAP logins ${round(l, 1)}/s = ${round(l / k)} of raw binds on kept connections (target 0.8), ${round(l / f)} of connect-and-bind`,
    );
    ldap = {
      users: LDAP_USERS,
      rawBindsPerSecondKeptConnection: round(k, 1),
      rawBindsPerSecondConnectEach: round(f, 1),
      ldapLoginsPerSecond: round(l, 1),
      ratioToKeptBinds: round(l / k, 3),
      ratioToConnectEachBinds: round(l / f, 3),
      target: 0.8,
    };
  }

  // The passkey row (scripts/bench/passkeys.ts): passwordless logins over HTTP, two requests and
  // an ES256 assertion each, against raw verifyAuthenticationResponse in the server's process.
  note(`passkey row: registering ${PASSKEY_USERS} passkeys`);
  const post = poster(url, agent);
  const devices = await setUpPasskeys(
    post,
    { authorization: `Bearer ${OPERATOR_TOKEN}` },
    PASSKEY_USERS,
  );
  const samples = samplesOf(devices, 200);
  const rawPasskey = async (seconds: number) => {
    tell({ type: 'passkey-raw', seconds, concurrency: CONCURRENCY, samples });
    return next('passkey-raw');
  };
  await rawPasskey(1);
  await passkeyLogins(post, devices, 1, CONCURRENCY);
  const rawAssertionRates: number[] = [];
  const passkeyRates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await rawPasskey(SECONDS);
    rawAssertionRates.push((a.verifications * 1000) / a.ms);
    const b = await passkeyLogins(post, devices, SECONDS, CONCURRENCY);
    passkeyRates.push((b.ok * 1000) / b.ms);
    failures += b.failed;
    note(
      `passkey round ${r + 1}: raw verifyAuthenticationResponse ${round(rawAssertionRates.at(-1)!, 1)}/s, passkey logins over HTTP ${round(passkeyRates.at(-1)!, 1)}/s${b.failed ? ` (${b.failed} failed)` : ''}`,
    );
  }
  const middle = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [pr, pl] = [middle(rawAssertionRates), middle(passkeyRates)];
  note(`passkey logins ${round(pl, 1)}/s = ${round(pl / pr)} of raw verifications (target 0.8)`);
  const passkey = {
    users: PASSKEY_USERS,
    algorithm: 'ES256',
    rawVerificationsPerSecond: round(pr, 1),
    passkeyLoginsPerSecond: round(pl, 1),
    ratioToRaw: round(pl / pr, 3),
    target: 0.8,
  };
  tell({ type: 'stop' });
  agent.destroy();
  await exited;
  if (failures > 0) throw new Error(`${failures} logins failed: the figure would mean nothing`);

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rawRate = mean(rawRates);
  const loginRate = mean(loginRates);
  const cores = availableParallelism();
  const perCore = loginRate / cores;
  note(`raw argon2id (${params}): ${round(rawRate, 1)} verifications/s`);
  note(
    `password logins over HTTP: ${round(loginRate, 1)}/s = ${round(loginRate / rawRate)} of raw (target 0.85)`,
  );
  const cpuPerLogin = {
    server: loginCpu.server / loggedIn,
    client: loginCpu.client / loggedIn,
  };
  const cpuPerVerification = rawCpu.server / verified;
  note(
    `CPU per login: server ${round(cpuPerLogin.server, 1)} ms (argon2 included), client ${round(cpuPerLogin.client, 1)} ms; per raw verification: ${round(cpuPerVerification, 1)} ms`,
  );
  note(
    `per core (${cores}): ${round(perCore, 1)} logins/s; Keycloak plans ${KEYCLOAK_PER_VCPU}/s per vCPU (x${round(perCore / KEYCLOAK_PER_VCPU)})`,
  );
  console.log(
    JSON.stringify({
      bench: 'login',
      argon2: params,
      users: USERS,
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      rounds: ROUNDS,
      cores,
      rawVerificationsPerSecond: round(rawRate, 1),
      loginsPerSecond: round(loginRate, 1),
      ratioToRaw: round(loginRate / rawRate, 3),
      target: 0.85,
      serverCpuMsPerLogin: round(cpuPerLogin.server, 2),
      clientCpuMsPerLogin: round(cpuPerLogin.client, 2),
      serverCpuMsPerRawVerification: round(cpuPerVerification, 2),
      loginsPerSecondPerCore: round(perCore, 1),
      keycloakPlanningPerVcpu: KEYCLOAK_PER_VCPU,
      ratioToKeycloakPerCore: round(perCore / KEYCLOAK_PER_VCPU, 2),
      ldap,
      passkey,
    }),
  );
};

await main();
