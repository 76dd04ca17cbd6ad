// The client certificate a request presents, for the certificate evidence provider
// (src/authn/certificates.ts), from one of two places:
// - the node's own mutual TLS handshake: the TLS socket's peer certificate, only when OpenSSL
//   verified it against the node's client CA (`authorized`; AUTHLOG_TLS_CLIENT_CA, and the CRL of
//   AUTHLOG_CLIENT_CRL_FILE when set);
// - `X-Client-Cert` from the trusted gateway: the URL-encoded PEM of the certificate the gateway's
//   own TLS handshake received (nginx `$ssl_client_escaped_cert`), believed only when the socket
//   peer — never a forwarded address — is in AUTHLOG_GATEWAY_CIDRS, the rule of `Remote-User`
//   (proxy.ts). From anyone else the header is ignored and logged: a client could otherwise send
//   any certificate it has seen without holding its key (RFC 8705 section 3 binds a certificate
//   to the TLS connection that proved its key; a gateway's header carries that proof only from
//   the gateway). A gateway that also connects over mutual TLS presents its own certificate on
//   the socket: its header, when it sends one, names the user's.
// A header that is not one PEM certificate is ignored and logged too, never a 500: the provider
// never sees it. Over 16 KiB of headers, Node's parser answers 431 before any of this runs.
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import {
  type ClientCertificateTrust,
  clientCertificateTrust,
  MAX_CERTIFICATE_PEM,
  parseCertificate,
} from '../authn/certificates.ts';
import type { Presented } from '../authn/evidence.ts';
import { parseAddress } from '../authn/net.ts';

export const CLIENT_CERT_HEADER = 'x-client-cert';

type PresentedCertificate = NonNullable<Presented['certificate']>;

const forwarded = (request: FastifyRequest): PresentedCertificate | undefined => {
  const raw = request.headers[CLIENT_CERT_HEADER];
  if (raw === undefined) return undefined;
  const peer = request.socket.remoteAddress;
  if (!request.server.peerTrust.isGateway(peer)) {
    request.log.warn(
      { peer: parseAddress(peer)?.toString() ?? 'unknown' },
      'X-Client-Cert header from a peer outside AUTHLOG_GATEWAY_CIDRS ignored',
    );
    return undefined;
  }
  let pem: string | undefined;
  if (typeof raw === 'string' && raw.length <= 3 * MAX_CERTIFICATE_PEM) {
    try {
      pem = decodeURIComponent(raw);
    } catch {}
  }
  if (pem === undefined || parseCertificate(pem) === undefined) {
    request.log.warn({ length: String(raw).length }, 'malformed X-Client-Cert header ignored');
    return undefined;
  }
  return { pem, via: 'gateway' };
};

const ownHandshake = (request: FastifyRequest): PresentedCertificate | undefined => {
  const socket = request.raw.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const der = socket.getPeerCertificate().raw;
  if (!der || der.length === 0) return undefined;
  const pem = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  return { pem, via: 'mtls' };
};

/** The certificate this request presents, if any (see the module comment). */
export const presentedCertificate = (request: FastifyRequest): PresentedCertificate | undefined =>
  forwarded(request) ?? ownHandshake(request);

/** The CAs client certificates may chain to on this node: the listener's client CA (when it asks
 * for client certificates) and `extra` (AUTHLOG_CLIENT_CERT_CA). */
export const certificateTrustOf = (
  tls: HttpsServerOptions | undefined,
  extra: string | undefined,
): ClientCertificateTrust => {
  const ca = tls?.requestCert ? tls.ca : undefined;
  const listener = ca === undefined ? [] : [ca].flat().map((c) => c.toString());
  return clientCertificateTrust([...listener, extra]);
};
