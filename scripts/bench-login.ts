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

import { availableParallelism } from 'node:os';
import { forkServer } from './bench/child-server.ts';
import { PASSWORD, userName } from './bench/login-model.ts';
import type { ParentMessage, ServerMessage } from './bench/login-server.ts';
import { envInt, note, round } from './bench/util.ts';

const USERS = envInt('BENCH_USERS', 500);
const SECONDS = envInt('BENCH_SECONDS', 5);
const ROUNDS = envInt('BENCH_ROUNDS', 3);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 8);
/** Keycloak's sizing guide: 15 password-based logins per second per vCPU. */
const KEYCLOAK_PER_VCPU = 15;

const main = async () => {
  const { exited, next, tell } = forkServer<ServerMessage, ParentMessage>(
    new URL('./bench/login-server.ts', import.meta.url),
    { ...process.env, BENCH_USERS: String(USERS) },
  );

  const { url, params } = await next('listening');
  let cursor = 0;
  const logins = async (seconds: number) => {
    const started = performance.now();
    const until = started + seconds * 1000;
    let ok = 0;
    let failed = 0;
    const loop = async () => {
      while (performance.now() < until) {
        const i = cursor++ % USERS;
        const r = await fetch(`${url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ identity: userName(i), password: PASSWORD, transport: 'bearer' }),
        });
        const body = (await r.json()) as { token?: string; complete?: boolean };
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

  note(`warming up (argon2id ${params}, concurrency ${CONCURRENCY}, ${USERS} users)`);
  await raw(1);
  await logins(1);
  const rawRates: number[] = [];
  const loginRates: number[] = [];
  let failures = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const a = await raw(SECONDS);
    rawRates.push((a.verifications * 1000) / a.ms);
    const b = await logins(SECONDS);
    loginRates.push((b.ok * 1000) / b.ms);
    failures += b.failed;
    note(
      `round ${r + 1}: raw argon2id ${round(rawRates.at(-1)!, 1)} verifications/s, HTTP ${round(loginRates.at(-1)!, 1)} logins/s${b.failed ? ` (${b.failed} failed)` : ''}`,
    );
  }
  tell({ type: 'stop' });
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
      loginsPerSecondPerCore: round(perCore, 1),
      keycloakPlanningPerVcpu: KEYCLOAK_PER_VCPU,
      ratioToKeycloakPerCore: round(perCore / KEYCLOAK_PER_VCPU, 2),
    }),
  );
};

await main();
