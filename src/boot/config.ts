// Configuration from the environment (and CLI flags layered on top), validated at start with a
// message for every wrong or missing setting. Secrets come from the environment; in production
// the node refuses to start without them, in development a secret file is generated under the
// data folder (mode 0600) so the first start works (OWASP ASVS 14.3 / 6.4: no secrets in code).

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { type AuthConfig, parseAuthConfig } from '../authn/auth-config.ts';
import { certificatesOf } from '../authn/certificates.ts';
import { parseWebAuthnConfig, type WebAuthnConfig } from '../authn/passkey-config.ts';
import { NODE_ID_PATTERN, ORIGIN_STREAM_PREFIX } from '../events/envelope.ts';
import { type EdgeConfig, parseEdgeConfig } from '../http/edge-config.ts';
import { esdbConnectionProblems } from '../store/esdb/connection-string.ts';
import { prefixedStreamsInSqliteLog } from '../store/sqlite/prefixed-streams.ts';
import { type ClusterIdentity, loadClusterIdentity } from './cluster.ts';
import { ConfigError } from './config-error.ts';
import { readOrCreate } from './files.ts';

export type StoreConfig =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'esdb'; readonly connectionString: string };

export type Secrets = {
  /** Bearer token of the node operator (the API's only credential until sessions exist). */
  readonly operatorToken: string;
  /** AES-256 keys for TOTP seeds, by key id; the first is used for new seeds. */
  readonly totpKeys: Readonly<Record<string, string>>;
};

export type Config = {
  readonly mode: 'development' | 'production';
  readonly nodeId: string;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly store: StoreConfig;
  readonly readModelPath: string;
  readonly logLevel: string;
  readonly maxDriftMs: number;
  /** How long a puller waits before asking a peer again after refusing one of its events. */
  readonly peerRefusedRetryMs: number;
  /** The HTTP edge: proxies, gateways, rate limits, origins (see src/http/edge-config.ts). */
  readonly http: EdgeConfig;
  /** Sessions, elevation, lockout and argon2 (see src/authn/auth-config.ts). */
  readonly auth: AuthConfig;
  /** Passkeys: the RP ID and origins every site serves (src/authn/passkey-config.ts); null: off. */
  readonly webauthn: WebAuthnConfig | null;
  readonly secrets: Secrets;
  /** Where the secrets came from, for the start banner (never the values). */
  readonly secretsSource: 'environment' | string;
  /** TLS for the HTTP listener, and for this node's pullers reaching https peers. */
  readonly tls: TlsConfig;
  /** The node's signing key and its cluster's founders (cluster.ts). */
  readonly cluster: ClusterIdentity;
};

/** PEM texts read from the files the AUTHLOG_TLS_* and AUTHLOG_PEER_CA settings name. */
export type TlsConfig = {
  /** AUTHLOG_TLS_CERT + AUTHLOG_TLS_KEY: listen with TLS; pullers present them as client cert. */
  readonly server?: { readonly cert: string; readonly key: string };
  /** AUTHLOG_TLS_CLIENT_CA: every client must present a certificate signed by it (mutual TLS). */
  readonly clientCa?: string;
  /** AUTHLOG_PEER_CA: the only CA trusted for https peers (default: the system's roots). */
  readonly peerCa?: string;
  /** AUTHLOG_CLIENT_CRL_FILE: CRLs (PEM) OpenSSL checks client certificates against during the
   * mutual TLS handshake (needs AUTHLOG_TLS_CLIENT_CA). */
  readonly clientCrl?: string;
  /** AUTHLOG_CLIENT_CERT_CA: CA certificates client certificates may chain to for certificate
   * logins besides AUTHLOG_TLS_CLIENT_CA (those a trusted gateway forwards). */
  readonly clientCertCa?: string;
};

export { ConfigError };

export type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// The node id is the node's origin: its events are `origin-<id>`, numbered 1, 2, … by this node
// alone. A data folder started under another id would write as a new origin and leave the old one
// without a writer, so the folder remembers the id it first ran under (`<data>/node-id`, written
// for generated and configured ids alike) and refuses any other.
const rememberedNodeId = (file: string, problems: string[]): string | undefined => {
  if (!existsSync(file)) return undefined;
  const id = readFileSync(file, 'utf8').trim();
  if (NODE_ID_PATTERN.test(id)) return id;
  problems.push(`${file} does not hold a valid node id`);
  return undefined;
};

/**
 * The id of a data folder that does not remember one yet: AUTHLOG_NODE_ID, else a generated one,
 * written to `file`. A folder from before ids were remembered may hold a log already; its origin is
 * not guessed (a node that only pulled from one peer holds that peer's origin alone, and writing as
 * it would fork the peer's history): the configured id must be one of the log's origins, and
 * without one the node refuses to start, naming them. Only an SQLite log lives in the data folder;
 * an EventStoreDB log is not read here.
 */
const rememberNodeId = (
  file: string,
  configured: string | undefined,
  store: StoreConfig,
  dataDir: string,
): string => {
  const origins =
    store.kind === 'sqlite' ? prefixedStreamsInSqliteLog(store.path, ORIGIN_STREAM_PREFIX) : [];
  if (origins.length > 0 && (configured === undefined || !origins.includes(configured))) {
    const held = origins.map((o) => JSON.stringify(o)).join(', ');
    throw new ConfigError([
      configured === undefined
        ? `the data folder ${dataDir} does not remember its node id and its event log holds events of ${held}: set AUTHLOG_NODE_ID to the id this folder was started with (it is remembered from then on)`
        : `the data folder ${dataDir} does not remember its node id and its event log holds events of ${held}, none of ${JSON.stringify(configured)}: set AUTHLOG_NODE_ID to the id this folder was started with; if this node never wrote an event, write ${JSON.stringify(configured)} into ${file} to confirm it`,
    ]);
  }
  const id = configured ?? `node-${randomBytes(4).toString('hex')}`;
  writeFileSync(file, `${id}\n`, { mode: 0o600, flag: 'wx' });
  return id;
};

const parseKeys = (raw: string, problems: string[]): Record<string, string> => {
  const keys: Record<string, string> = {};
  for (const part of raw.split(',').filter(Boolean)) {
    const [kid, b64] = part.split(':');
    if (
      !kid ||
      !b64 ||
      !/^[a-z0-9-]{1,32}$/.test(kid) ||
      Buffer.from(b64, 'base64').length !== 32
    ) {
      problems.push('AUTHLOG_TOTP_KEYS must be keyId:base64(32 random bytes)[,…]');
      return {};
    }
    keys[kid] = b64;
  }
  return keys;
};

/** Loads and validates configuration; creates the data folder and, in development, secrets. */
export const loadConfig = (
  env: Env = process.env,
  overrides: Partial<Record<string, string>> = {},
): Config => {
  const get = (name: string): string | undefined => overrides[name] ?? env[name];
  const problems: string[] = [];
  const modeRaw =
    get('AUTHLOG_MODE') ?? (env.NODE_ENV === 'production' ? 'production' : 'development');
  if (modeRaw !== 'development' && modeRaw !== 'production')
    problems.push(`AUTHLOG_MODE must be development or production, not ${JSON.stringify(modeRaw)}`);
  const mode = modeRaw === 'production' ? 'production' : 'development';

  const dataDir = resolve(get('AUTHLOG_DATA_DIR') ?? 'data');
  const host = get('AUTHLOG_HOST') ?? '127.0.0.1';
  const portRaw = get('AUTHLOG_PORT') ?? '8080';
  const port = Number(portRaw);
  if (!/^\d{1,5}$/.test(portRaw) || port > 65535)
    problems.push(`AUTHLOG_PORT must be a TCP port (0-65535), not ${JSON.stringify(portRaw)}`);
  const logLevel = get('AUTHLOG_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    problems.push(`AUTHLOG_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const refusedRetryRaw = get('AUTHLOG_PEER_REFUSED_RETRY_MS') ?? '30000';
  if (!/^\d{3,8}$/.test(refusedRetryRaw))
    problems.push('AUTHLOG_PEER_REFUSED_RETRY_MS must be whole milliseconds, 100 to 99999999');
  const driftRaw = get('AUTHLOG_MAX_DRIFT_MS') ?? '60000';
  if (!/^\d{1,9}$/.test(driftRaw))
    problems.push('AUTHLOG_MAX_DRIFT_MS must be a whole number of milliseconds');

  const storeKind = get('AUTHLOG_STORE') ?? 'sqlite';
  let store: StoreConfig = { kind: 'sqlite', path: join(dataDir, 'events.sqlite') };
  if (storeKind === 'esdb') {
    const cs = get('ESDB_CONNECTION_STRING');
    if (!cs)
      problems.push('AUTHLOG_STORE=esdb needs ESDB_CONNECTION_STRING (e.g. esdb://localhost:2113)');
    else {
      problems.push(...esdbConnectionProblems(cs, mode));
      store = { kind: 'esdb', connectionString: cs };
    }
  } else if (storeKind !== 'sqlite')
    problems.push(`AUTHLOG_STORE must be sqlite or esdb, not ${JSON.stringify(storeKind)}`);

  const nodeIdRaw = get('AUTHLOG_NODE_ID');
  if (nodeIdRaw !== undefined && !NODE_ID_PATTERN.test(nodeIdRaw)) {
    problems.push(
      `AUTHLOG_NODE_ID must be 1-63 lowercase letters, digits or dashes, not ${JSON.stringify(nodeIdRaw)}`,
    );
  }
  const nodeIdFile = join(dataDir, 'node-id');
  const remembered = rememberedNodeId(nodeIdFile, problems);
  if (nodeIdRaw !== undefined && remembered !== undefined && nodeIdRaw !== remembered)
    problems.push(
      `AUTHLOG_NODE_ID is ${JSON.stringify(nodeIdRaw)} but the data folder ${dataDir} belongs to node ${JSON.stringify(remembered)} (${nodeIdFile}): a node's origin id never changes. Unset AUTHLOG_NODE_ID (or --node-id) to start as ${JSON.stringify(remembered)}, or start the new node on a data folder of its own`,
    );

  const envToken = get('AUTHLOG_OPERATOR_TOKEN');
  const envKeys = get('AUTHLOG_TOTP_KEYS');
  if (envToken !== undefined && envToken.length < 32)
    problems.push('AUTHLOG_OPERATOR_TOKEN must be at least 32 characters');
  if (mode === 'production') {
    if (!envToken)
      problems.push('production mode needs AUTHLOG_OPERATOR_TOKEN (at least 32 random characters)');
    if (!envKeys)
      problems.push('production mode needs AUTHLOG_TOTP_KEYS (keyId:base64 of 32 random bytes)');
    if (!nodeIdRaw && remembered === undefined)
      problems.push(
        'production mode needs AUTHLOG_NODE_ID (unique per node, stable across restarts)',
      );
    if (!get('AUTHLOG_NODE_KEY') && !get('AUTHLOG_NODE_KEY_FILE'))
      problems.push(
        'production mode needs AUTHLOG_NODE_KEY or AUTHLOG_NODE_KEY_FILE (an Ed25519 key: authlog node key-gen)',
      );
  }
  const totpKeys = envKeys ? parseKeys(envKeys, problems) : {};
  const http = parseEdgeConfig(get, mode, problems);
  const auth = parseAuthConfig(get, problems);
  const webauthn = parseWebAuthnConfig(get, mode, port, problems);
  const tls = parseTlsConfig(get, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const nodeId = remembered ?? rememberNodeId(nodeIdFile, nodeIdRaw, store, dataDir);

  let secrets: Secrets;
  let secretsSource = 'environment';
  if (envToken && envKeys) secrets = { operatorToken: envToken, totpKeys };
  else {
    const file = join(dataDir, 'secrets.json');
    const raw = readOrCreate(file, () =>
      JSON.stringify({
        operatorToken: randomBytes(32).toString('base64url'),
        totpKeys: { k1: randomBytes(32).toString('base64') },
      }),
    );
    const parsed = JSON.parse(raw) as Partial<Secrets>;
    if (
      typeof parsed.operatorToken !== 'string' ||
      typeof parsed.totpKeys !== 'object' ||
      parsed.totpKeys === null
    ) {
      throw new ConfigError([
        `${file} is not a valid secrets file; remove it to generate a new one`,
      ]);
    }
    secrets = {
      operatorToken: envToken ?? parsed.operatorToken,
      totpKeys: envKeys ? totpKeys : parsed.totpKeys,
    };
    secretsSource = file;
  }

  const cluster = loadClusterIdentity(get, dataDir, mode, nodeId);
  const rmPath = get('AUTHLOG_READMODEL_PATH') ?? join(dataDir, 'readmodel.sqlite');
  return {
    mode,
    nodeId,
    dataDir,
    host,
    port,
    store,
    readModelPath: isAbsolute(rmPath) ? rmPath : resolve(rmPath),
    logLevel,
    maxDriftMs: Number(driftRaw),
    peerRefusedRetryMs: Number(refusedRetryRaw),
    http,
    auth,
    webauthn,
    secrets,
    secretsSource,
    tls,
    cluster,
  };
};

const readPem = (
  name: string,
  path: string | undefined,
  what: RegExp,
  problems: string[],
): string | undefined => {
  if (path === undefined || path === '') return undefined;
  try {
    const text = readFileSync(path, 'utf8');
    if (what.test(text)) return text;
    problems.push(`${name}: ${path} holds no PEM ${what.source.replaceAll('\\', '')}`);
  } catch (err) {
    problems.push(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  return undefined;
};

const CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const CRL = /-----BEGIN X509 CRL-----/;

/** TLS settings are file paths (PEM), read once at start; a key never sits in the environment. */
const parseTlsConfig = (get: (name: string) => string | undefined, problems: string[]) => {
  const certPath = get('AUTHLOG_TLS_CERT');
  const keyPath = get('AUTHLOG_TLS_KEY');
  if (Boolean(certPath) !== Boolean(keyPath))
    problems.push('AUTHLOG_TLS_CERT and AUTHLOG_TLS_KEY go together: set both or neither');
  const cert = readPem('AUTHLOG_TLS_CERT', certPath, CERTIFICATE, problems);
  const key = readPem('AUTHLOG_TLS_KEY', keyPath, PRIVATE_KEY, problems);
  const clientCa = readPem(
    'AUTHLOG_TLS_CLIENT_CA',
    get('AUTHLOG_TLS_CLIENT_CA'),
    CERTIFICATE,
    problems,
  );
  if (clientCa && !certPath)
    problems.push('AUTHLOG_TLS_CLIENT_CA needs AUTHLOG_TLS_CERT and AUTHLOG_TLS_KEY');
  const peerCa = readPem('AUTHLOG_PEER_CA', get('AUTHLOG_PEER_CA'), CERTIFICATE, problems);
  const clientCrl = readPem(
    'AUTHLOG_CLIENT_CRL_FILE',
    get('AUTHLOG_CLIENT_CRL_FILE'),
    CRL,
    problems,
  );
  if (clientCrl) {
    if (!clientCa)
      problems.push(
        'AUTHLOG_CLIENT_CRL_FILE needs AUTHLOG_TLS_CLIENT_CA: CRLs are checked in the mutual TLS handshake',
      );
    try {
      createSecureContext({ crl: clientCrl });
    } catch (err) {
      problems.push(`AUTHLOG_CLIENT_CRL_FILE: not a CRL OpenSSL reads (${(err as Error).message})`);
    }
  }
  const clientCertCa = readPem(
    'AUTHLOG_CLIENT_CERT_CA',
    get('AUTHLOG_CLIENT_CERT_CA'),
    CERTIFICATE,
    problems,
  );
  if (clientCertCa) {
    try {
      if (!certificatesOf(clientCertCa).some((c) => c.ca))
        problems.push('AUTHLOG_CLIENT_CERT_CA: holds no CA certificate (basicConstraints cA)');
    } catch (err) {
      problems.push(
        `AUTHLOG_CLIENT_CERT_CA: a certificate does not parse (${(err as Error).message})`,
      );
    }
  }
  const tls: TlsConfig = {
    ...(cert && key ? { server: { cert, key } } : {}),
    ...(clientCa ? { clientCa } : {}),
    ...(peerCa ? { peerCa } : {}),
    ...(clientCrl ? { clientCrl } : {}),
    ...(clientCertCa ? { clientCertCa } : {}),
  };
  return tls;
};
