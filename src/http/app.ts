// buildApp() assembles the HTTP edge around a running node; listen() happens elsewhere, so
// tests drive it with inject(). Route groups are encapsulated plugins under routes/. Everything
// DESIGN.md section 10 asks of a route is applied here, for every route, in this order:
//   onRequest   security headers, cookies parsed, rate limits (global; stricter on auth routes)
//   preParsing  authentication (bearer or session cookie), CSRF checks, readiness, authlog-after
//   then        body parsed within the route's limit, validated against its schema, handler
// and every refusal, from any of these steps, is one problem+json (problem.ts).
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  createServer as createHttpsServer,
  type ServerOptions as HttpsServerOptions,
} from 'node:https';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import { type AuthConfig, defaultAuthConfig } from '../authn/auth-config.ts';
import type { EvidenceProvider } from '../authn/evidence.ts';
import { developmentWebAuthn, type WebAuthnConfig } from '../authn/passkey-config.ts';
import { createPasskeys } from '../authn/passkeys.ts';
import { checkArgon2Params } from '../authn/passwords.ts';
import { evidenceProviders } from '../authn/providers.ts';
import { ephemeralKeyring, type Keyring } from '../authn/seed-crypto.ts';
import { authenticateToken } from '../authn/tokens.ts';
import { OidcService } from '../directories/oidc.ts';
import type { DirectoryService } from '../directories/service.ts';
import { AppError } from '../errors.ts';
import { logBrokenProblem } from '../node/chain.ts';
import type { AuthlogNode } from '../node/node.ts';
import type { PeerStatus } from '../replication/puller.ts';
import { registerAuthentication, type SessionLookup } from './authenticate.ts';
import { certificateTrustOf } from './client-certificate.ts';
import { clientErrorHandler } from './client-error.ts';
import { enforceRouteConventions } from './conventions.ts';
import { registerCookies } from './cookies.ts';
import { csrfKey, registerCsrf } from './csrf.ts';
import { registerDenialAudit } from './denials.ts';
import { registerDevices } from './devices.ts';
import { defaultEdgeConfig, type EdgeConfig } from './edge-config.ts';
import { gatewayUser } from './gateway.ts';
import { registerSecurityHeaders } from './headers.ts';
import { lazyChildLogger, RequestLogController } from './logging.ts';
import { docsRoutes, registerOpenApi } from './openapi.ts';
import { sendProblem } from './problem.ts';
import { clientIp, peerTrust } from './proxy.ts';
import { registerRateLimits } from './rate-limit.ts';
import { accountRoutes } from './routes/account.ts';
import { auditRoutes } from './routes/audit.ts';
import { authzRoutes } from './routes/authz.ts';
import { certificateRoutes } from './routes/certificates.ts';
import { clusterRoutes } from './routes/cluster.ts';
import { credentialDirectoryRoutes } from './routes/credential-directories.ts';
import { directoryRoutes } from './routes/directories.ts';
import { factorRoutes } from './routes/factors.ts';
import { healthRoutes } from './routes/health.ts';
import { lockoutRoutes } from './routes/lockout.ts';
import { loginRoutes } from './routes/login.ts';
import { oidcRoutes } from './routes/oidc.ts';
import { passkeyRoutes } from './routes/passkeys.ts';
import { passwordRoutes } from './routes/passwords.ts';
import { policyRoutes } from './routes/policies.ts';
import { principalRoutes } from './routes/principals.ts';
import { recoveryCodeRoutes } from './routes/recovery-codes.ts';
import { replicationPrincipal, replicationRoutes } from './routes/replication.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { statusRoutes } from './routes/status.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { ProblemSchema } from './schemas.ts';
import { createSessions } from './sessions.ts';
import type { App } from './types.ts';
import { validatorCompiler } from './validation.ts';

export type AppOptions = {
  readonly node: AuthlogNode;
  readonly operatorToken: string;
  readonly logger?: Logger | boolean;
  /** How long a request carrying `authlog-after` may wait for this node to apply that write. */
  readonly readYourWritesWaitMs?: number;
  /** The HTTP edge settings (`config.http`); unset ones take the development defaults. */
  readonly edge?: Partial<EdgeConfig>;
  /** Status of this node's replication pullers, for /v1/replication/status and /metrics. */
  readonly peers?: () => readonly PeerStatus[];
  /** Replaces the session lookup (tests); by default sessions come from the read model. */
  readonly sessions?: SessionLookup;
  /** Session timeouts, lockout and argon2 settings (`config.auth`); unset ones take defaults. */
  readonly auth?: Partial<AuthConfig>;
  /** Evidence providers (default: every one in src/authn/providers.ts). */
  readonly providers?: readonly EvidenceProvider<unknown>[];
  /** Keys for OTP seeds (`config.secrets.totpKeys`); unset: a random key for this process only. */
  readonly otpKeys?: Keyring;
  /** External LDAP / AD directories (src/directories/ DirectoryService); none: directory
   * accounts cannot log in here. */
  readonly directories?: DirectoryService;
  /** The relying party of `oidc` credential directories (src/directories/oidc.ts): client
   * secrets and this node's callbacks from its environment; unset: none (public clients only). */
  readonly oidc?: OidcService;
  /** Passkeys (`config.webauthn`, src/authn/passkey-config.ts): the RP ID and origins every
   * site serves; unset: http://localhost (development, tests); null: passkeys are off. */
  readonly webauthn?: WebAuthnConfig | null;
  /** Listen with TLS (`config.tls`): certificate, key, and a CA clients must be signed by. */
  readonly tls?: HttpsServerOptions;
  /** CA certificates (PEM) client certificates may chain to besides the listener's client CA
   * (`config.tls.clientCertCa`: for certificates a trusted gateway forwards). */
  readonly clientCertificateCas?: string;
};

declare module 'fastify' {
  interface FastifyInstance {
    node: AuthlogNode;
    peers: () => readonly PeerStatus[];
    directories: DirectoryService | undefined;
  }
}

const AFTER = /^([a-z0-9][a-z0-9-]{0,62}):([0-9]{1,19})$/;
/** Decodes UTF-8 or throws (no U+FFFD replacement); a leading BOM is dropped. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
/** Bodies are small JSON documents; a route that needs more says so with `bodyLimit`. */
export const DEFAULT_BODY_LIMIT = 16 * 1024;

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

export const buildApp = (options: AppOptions): App => {
  const edge: EdgeConfig = { ...defaultEdgeConfig, ...options.edge };
  const trust = peerTrust(edge);
  const logRef: { current?: FastifyBaseLogger } = {};
  const tls = options.tls;
  const app = Fastify<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: typeof options.logger === 'object' ? options.logger : undefined,
    logger: typeof options.logger === 'boolean' ? options.logger : undefined,
    bodyLimit: DEFAULT_BODY_LIMIT,
    genReqId: () => crypto.randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    // X-Forwarded-* only from configured proxies; an empty list trusts nobody.
    trustProxy: edge.trustedProxies.length > 0 ? (address) => trust.isTrustedProxy(address) : false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Router-level refusals (overlong params, bad URLs) use the same problem format.
    frameworkErrors: (err, request, reply) => sendProblem(request, reply, err),
    clientErrorHandler: clientErrorHandler(() => logRef.current),
    // Successful fast requests are logged at debug only; refusals, failures, slow ones at info.
    logController: new RequestLogController(),
    childLoggerFactory: lazyChildLogger,
    ...(tls ? { serverFactory: (handler) => createHttpsServer(tls, handler) } : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();
  logRef.current = app.log;

  app.setValidatorCompiler(validatorCompiler);
  app.decorate('node', options.node);
  app.decorate('peers', options.peers ?? (() => []));
  app.decorate('directories', options.directories);
  app.decorate('peerTrust', trust);
  app.decorate('otpKeys', options.otpKeys ?? ephemeralKeyring());
  // Device tokens verify on every node: their key derives from the OTP keys all nodes share.
  registerDevices(app, app.otpKeys);
  app.addSchema(ProblemSchema);
  app.setErrorHandler((err, request, reply) => sendProblem(request, reply, err));

  enforceRouteConventions(app);
  registerSecurityHeaders(app, { hsts: edge.hsts });
  registerCookies(app);
  registerRateLimits(app, {
    global: edge.rateLimit,
    auth: edge.authRateLimit,
    replication: {
      limit: edge.replicationRateLimit,
      principal: (request) => replicationPrincipal(options.node, options.operatorToken, request),
    },
  });
  registerOpenApi(app, { version: VERSION });
  const authConfig: AuthConfig = { ...defaultAuthConfig, ...options.auth };
  checkArgon2Params(authConfig.argon2);
  const webauthn = options.webauthn === undefined ? developmentWebAuthn() : options.webauthn;
  const passkeys = webauthn === null ? undefined : createPasskeys(webauthn);
  const sessions = createSessions(options.node, authConfig, {
    providers:
      options.providers ??
      evidenceProviders(
        app.otpKeys,
        certificateTrustOf(tls, options.clientCertificateCas),
        passkeys,
      ),
    directories: options.directories,
  });
  app.decorate('sessions', sessions);
  registerAuthentication(app, {
    operatorToken: options.operatorToken,
    sessions: options.sessions ?? sessions.lookup,
    basic: sessions.basic,
    gateway: (request) => gatewayUser(request, edge.gatewayDirectory),
    tokens: (token, request) =>
      authenticateToken(options.node.read, token, clientIp(request), Date.now()),
  });
  // Refusals for lack of privilege go to the audit trail (src/http/denials.ts).
  registerDenialAudit(app);
  registerCsrf(app, {
    key: csrfKey(edge.csrfKey, options.operatorToken),
    allowedOrigins: edge.allowedOrigins,
  });

  // JSON is UTF-8 (RFC 8259 8.1); a body declared in another charset would be misread, not refused.
  // (A callback hook, like the next two: no promise per request; a throw is a refusal.)
  app.addHook('preParsing', (request, _reply, _payload, done) => {
    const type = request.headers['content-type'];
    if (
      type !== undefined &&
      /;\s*charset=/i.test(type) &&
      !/;\s*charset="?utf-8"?\s*(;|$)/i.test(type)
    )
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send JSON as UTF-8');
    done();
  });

  // JSON bodies are decoded as UTF-8 with fatal errors before they are parsed: a body that is not
  // UTF-8 is refused (BODY_NOT_UTF8), never read with U+FFFD in place of its bad bytes, which would
  // store something the client did not send (RFC 8259 8.1: JSON exchanged between systems MUST be
  // UTF-8; OWASP ASVS 5.0 V1.2 / V2.2: decode input in one canonical form, refuse what does not
  // decode). A leading byte order mark is ignored, as RFC 8259 8.1 allows a parser to (it cannot
  // reach a value). Parsing itself stays fastify's: secure-json-parse with the prototype- and
  // constructor-poisoning refusals configured above.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      // parseAs 'buffer': always bytes here; a string would already be text.
      text = typeof body === 'string' ? body : STRICT_UTF8.decode(body);
    } catch {
      done(new AppError('BODY_NOT_UTF8', 'send JSON encoded as UTF-8'), undefined);
      return;
    }
    parseJson(request, text, done);
  });

  const waitMs = options.readYourWritesWaitMs ?? 2000;
  const waitApplied = async (after: string | string[]) => {
    const m = typeof after === 'string' ? AFTER.exec(after) : null;
    if (!m)
      throw new AppError(
        'VALIDATION_FAILED',
        'authlog-after must be origin:seq as returned in authlog-applied',
      );
    const origin = m[1]!;
    const seq = BigInt(m[2]!);
    // Woken by the read-model commit that applies it (node.waitApplied), not by polling.
    if (!(await options.node.waitApplied(origin, seq, waitMs)))
      throw new AppError('NOT_YET_APPLIED', `this node has not applied ${after} yet`);
  };
  app.addHook('preParsing', (request, _reply, _payload, done) => {
    if (!request.url.startsWith('/v1/')) return done();
    if (!options.node.isReady()) {
      // A broken log (src/node/chain.ts) keeps the node from ready for good: status says where.
      const broken = options.node.status().logBreak;
      if (!broken) throw new AppError('NOT_READY', 'the read model is catching up; retry shortly');
      if (request.method !== 'GET' || request.url.split('?')[0] !== '/v1/status')
        throw logBrokenProblem(broken);
    }
    const after = request.headers['authlog-after'];
    if (after === undefined) return done();
    waitApplied(after).then(() => done(), done);
  });

  // A POST without a body (e.g. `deactivate` with no reason) is validated as an empty object.
  app.addHook('preValidation', (request, _reply, done) => {
    if (
      request.body === undefined &&
      request.headers['content-type'] === undefined &&
      request.method !== 'GET'
    ) {
      request.body = {};
    }
    done();
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new AppError(
        'NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`,
      ),
    ),
  );

  app.register(healthRoutes);
  app.register(docsRoutes);
  app.register(statusRoutes, { prefix: '/v1' });
  app.register(clusterRoutes, { prefix: '/v1' });
  app.register(principalRoutes, { prefix: '/v1' });
  app.register(directoryRoutes, { prefix: '/v1' });
  app.register(authzRoutes, { prefix: '/v1' });
  app.register(tokenRoutes, { prefix: '/v1' });
  app.register(loginRoutes, { prefix: '/v1', gatewayDirectory: edge.gatewayDirectory });
  app.register(sessionRoutes, { prefix: '/v1' });
  app.register(lockoutRoutes, { prefix: '/v1' });
  app.register(passwordRoutes, { prefix: '/v1' });
  app.register(policyRoutes, { prefix: '/v1' });
  app.register(credentialDirectoryRoutes, { prefix: '/v1' });
  app.register(accountRoutes, { prefix: '/v1' });
  app.register(factorRoutes, { prefix: '/v1' });
  app.register(certificateRoutes, { prefix: '/v1' });
  if (passkeys) app.register(passkeyRoutes, { prefix: '/v1', passkeys });
  app.register(oidcRoutes, {
    prefix: '/v1',
    service: options.oidc ?? new OidcService({ env: () => undefined }),
  });
  app.register(recoveryCodeRoutes, { prefix: '/v1' });
  app.register(auditRoutes, { prefix: '/v1' });
  app.register(replicationRoutes);
  return app;
};
