// Client certificates (issue 17 item 5): `trust` evidence for a principal whose TLS client
// certificate matches one of its certificate credentials. A credential is a rule — the
// certificate's SHA-256 (a pin, RFC 8705 section 2.2 style), or its subject, or one of its
// subjectAltNames (email, DNS, URI) — and the CA the certificate must chain to, pinned by the
// SHA-256 of the CA certificate (null: any CA of the node's client CA files).
//
// The certificate is presented at the edge (src/http/client-certificate.ts): by the node's own
// mutual TLS handshake, or forwarded by the trusted gateway in X-Client-Cert. Either way this
// provider verifies it again with node:crypto (X509Certificate: `checkIssued`, `verify` with the
// issuer's public key, the validity dates), so a gateway's word is not the only check (RFC 5280
// section 6 path validation, as far as node:crypto goes: signatures, issuer names and key
// identifiers, basicConstraints cA, validity; no policy or name constraints). Nothing here parses
// ASN.1 by hand.
//
// Revocation: CertificateFingerprintRevoked is a replicated deny list by SHA-256 (of the leaf or
// of a CA on its path). A CRL (AUTHLOG_CLIENT_CRL_FILE) is enforced by OpenSSL during the node's
// own TLS handshake (the `crl` option of the TLS context): node:crypto has no API to check a
// certificate against a CRL outside a handshake, so a certificate forwarded by a gateway is
// checked against the gateway's CRL by the gateway (nginx `ssl_crl`) and against the fingerprint
// list here, not against the node's CRL file.
import { createHash, X509Certificate } from 'node:crypto';
import { ADMIN_PRIVILEGE } from '../../projections/authz-engine.ts';
import {
  certificateRecordsOf,
  revokedFingerprints,
  unrevokedCertificatesOf,
} from '../../projections/factors.ts';
import { getPrincipal } from '../../projections/principals.ts';
import { requirePrivilege } from '../authz/admin.ts';
import { requireElevation } from '../authz/elevation.ts';
import { AppError, invalid } from '../errors.ts';
import type { EventPayload } from '../events/catalogue.ts';
import { text } from '../events/normalize.ts';
import type { Command } from '../node/command.ts';
import type { Reader } from '../readmodel/projection.ts';
import { directoryAllowed, type EvidenceProvider } from './evidence.ts';
import {
  CERTIFICATE_DIRECTORY,
  credentialDirectory,
  credentialOwner,
  evidenceOf,
  isLive,
  validUntil as parseValidUntil,
} from './factors.ts';

export type CertificateMatch = EventPayload<'CertificateRegistered'>['match'];

/** A PEM certificate is a few KiB; a chain or an RSA-8192 key stays well below this. */
export const MAX_CERTIFICATE_PEM = 16 * 1024;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;
/** id-kp-clientAuth and anyExtendedKeyUsage (RFC 5280 section 4.2.1.12). */
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_USAGE = '2.5.29.37.0';
/** Intermediates between a certificate and the CA it is pinned to, at most. */
const MAX_PATH = 4;

/** SHA-256 of the certificate's DER, lowercase hex (what `openssl x509 -fingerprint -sha256`
 * prints, without colons). */
export const sha256Of = (cert: X509Certificate): string =>
  createHash('sha256').update(cert.raw).digest('hex');

/** Exactly one certificate in PEM (white space around it allowed), or undefined. */
export const parseCertificate = (pem: string): X509Certificate | undefined => {
  if (pem.length > MAX_CERTIFICATE_PEM) return undefined;
  const blocks = pem.match(PEM_BLOCK) ?? [];
  const [block] = blocks;
  if (blocks.length !== 1 || block === undefined || pem.replace(block, '').trim() !== '')
    return undefined;
  try {
    return new X509Certificate(block);
  } catch {
    return undefined;
  }
};

/** Every certificate of a PEM bundle (a CA file); throws on a block that does not parse. */
export const certificatesOf = (pem: string): X509Certificate[] =>
  (pem.match(PEM_BLOCK) ?? []).map((block) => new X509Certificate(block));

const notBefore = (c: X509Certificate): number => Date.parse(c.validFrom);
const notAfter = (c: X509Certificate): number => Date.parse(c.validTo);
/** RFC 5280 section 4.1.2.5: valid from notBefore through notAfter, both included. */
const validAt = (c: X509Certificate, now: number): boolean =>
  notBefore(c) <= now && now <= notAfter(c);

/** Whether the certificate may authenticate a TLS client: not a CA (RFC 5280 4.2.1.9), and its
 * extended key usage, when it has one, names clientAuth or any usage (4.2.1.12). */
const clientUsable = (c: X509Certificate): boolean => {
  if (c.ca) return false;
  // Node's `keyUsage` is the extended key usage list (undefined when the extension is absent).
  const usages = c.keyUsage as string[] | undefined;
  return usages === undefined || usages.includes(CLIENT_AUTH) || usages.includes(ANY_USAGE);
};

/** The CA certificates client certificates may chain to on this node: those of the TLS client CA
 * file (AUTHLOG_TLS_CLIENT_CA) and of AUTHLOG_CLIENT_CERT_CA. Node-local, like the LDAP CA. */
export type ClientCertificateTrust = {
  readonly cas: readonly { readonly cert: X509Certificate; readonly sha256: string }[];
};

export const noClientCertificates: ClientCertificateTrust = { cas: [] };

/** The trust of PEM bundles; certificates in them that are not CAs are left out. */
export const clientCertificateTrust = (
  pems: readonly (string | undefined)[],
): ClientCertificateTrust => ({
  cas: pems
    .flatMap((pem) => (pem === undefined ? [] : certificatesOf(pem)))
    .filter((cert) => cert.ca)
    .map((cert) => ({ cert, sha256: sha256Of(cert) })),
});

/**
 * The configured CAs `leaf` chains to (SHA-256 of each), walking up through configured CAs only:
 * at each step the issuer's name and key identifiers match (`checkIssued`), the signature verifies
 * with the issuer's public key, and the issuer is a CA valid at `now`. Every CA reached is a
 * trust anchor (all came from the node's files); a pin names which one must be among them.
 */
export const anchorsOf = (
  leaf: X509Certificate,
  trust: ClientCertificateTrust,
  now: number,
): string[] => {
  const reached = new Set<string>();
  let frontier = [leaf];
  for (let depth = 0; depth <= MAX_PATH && frontier.length > 0; depth++) {
    const next: X509Certificate[] = [];
    for (const c of frontier)
      for (const ca of trust.cas) {
        if (reached.has(ca.sha256) || !validAt(ca.cert, now) || !c.checkIssued(ca.cert)) continue;
        let signed = false;
        try {
          signed = c.verify(ca.cert.publicKey);
        } catch {}
        if (!signed) continue;
        reached.add(ca.sha256);
        if (!ca.cert.checkIssued(ca.cert)) next.push(ca.cert);
      }
    frontier = next;
  }
  return [...reached].sort();
};

// subjectAltName as Node prints it: `DNS:a.example, email:b@example.org, URI:spiffe://x/y`, where a
// value holding a delimiter is a JSON string (`URI:"a, b"`), so the text splits unambiguously.
const subjectAltNames = (c: X509Certificate): [string, string][] => {
  const all = c.subjectAltName ?? '';
  const out: [string, string][] = [];
  let i = 0;
  while (i < all.length) {
    const colon = all.indexOf(':', i);
    if (colon < 0) break;
    const type = all.slice(i, colon);
    let end: number;
    let value: string;
    if (all[colon + 1] === '"') {
      let j = colon + 2;
      while (j < all.length && all[j] !== '"') j += all[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(all.slice(colon + 1, j + 1)) as string;
      } catch {
        return out;
      }
      end = j + 1;
    } else {
      end = all.indexOf(', ', colon);
      if (end < 0) end = all.length;
      value = all.slice(colon + 1, end);
    }
    out.push([type, value]);
    i = end + 2;
  }
  return out;
};

/** Whether a certificate matches a credential's rule. Emails and DNS names are OpenSSL's own
 * comparisons (X509_check_email, X509_check_host), never the subject's CN (RFC 6125 6.4.4), and
 * no wildcard certificate matches a registered name. */
export const certificateMatches = (
  match: CertificateMatch,
  leaf: X509Certificate,
  sha256: string,
): boolean => {
  if (match.kind === 'fingerprint') return match.sha256 === sha256;
  if (match.kind === 'subject') return leaf.subject === match.subject;
  const colon = match.san.indexOf(':');
  const type = match.san.slice(0, colon);
  const value = match.san.slice(colon + 1);
  if (type === 'email') return leaf.checkEmail(value, { subject: 'never' }) !== undefined;
  if (type === 'DNS')
    return (
      leaf.checkHost(value, { subject: 'never', wildcards: false, partialWildcards: false }) !==
      undefined
    );
  if (type === 'URI') return subjectAltNames(leaf).some(([t, v]) => t === 'URI' && v === value);
  return false;
};

// ---------------------------------------------------------------------------------------------
// Registration

const HEX64 = /^[0-9a-f]{64}$/;

/** A SHA-256 fingerprint as hex, colons and case as `openssl -fingerprint` prints them allowed. */
export const fingerprintOf = (field: string, raw: string): string => {
  const hex = raw.replaceAll(':', '').toLowerCase();
  if (!HEX64.test(hex)) throw invalid(field, 'must be a SHA-256 fingerprint: 64 hex digits');
  return hex;
};

const SUBJECT_LINE = /^[A-Za-z][A-Za-z0-9.-]{0,63}=[^\p{Cc}\p{Cf}]{1,256}$/u;

const normalizeSubject = (raw: string): string => {
  const lines = raw.trim().split(/\r?\n/);
  if (raw.length > 1024 || !lines.every((l) => SUBJECT_LINE.test(l)))
    throw invalid(
      'subject',
      'one attribute=value per line, as node:crypto X509Certificate.subject prints it (e.g. "O=Example\\nCN=alice")',
    );
  return lines.join('\n');
};

const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const EMAIL = /^[^\s@\p{Cc}\p{Cf}]{1,64}@[^\s@\p{Cc}\p{Cf}]{1,253}$/u;

const normalizeSan = (raw: string): string => {
  const colon = raw.indexOf(':');
  const type = raw.slice(0, colon);
  const value = raw.slice(colon + 1);
  if (type === 'email' && EMAIL.test(value)) {
    const at = value.lastIndexOf('@');
    return `email:${value.slice(0, at)}@${value.slice(at + 1).toLowerCase()}`;
  }
  if (type === 'DNS' && DNS_NAME.test(value.toLowerCase())) return `DNS:${value.toLowerCase()}`;
  if (type === 'URI' && value.length <= 1000 && URL.canParse(value) && !/[\s,"]/.test(value))
    return `URI:${value}`;
  throw invalid(
    'san',
    'one subjectAltName: email:<address>, DNS:<host name> (no wildcard) or URI:<uri>',
  );
};

/** The CA pin: the fingerprint of a CA certificate given in PEM, or the fingerprint itself. */
const issuerPin = (caPem: string | undefined, caSha256: string | undefined): string | null => {
  if (caPem !== undefined && caSha256 !== undefined)
    throw invalid('caSha256', 'send caPem or caSha256, not both');
  if (caSha256 !== undefined) return fingerprintOf('caSha256', caSha256);
  if (caPem === undefined) return null;
  const ca = parseCertificate(caPem);
  if (!ca) throw invalid('caPem', 'must be one X.509 certificate in PEM');
  if (!ca.ca) throw invalid('caPem', 'is not a CA certificate (basicConstraints cA)');
  return sha256Of(ca);
};

export type RegisterCertificateInput = {
  readonly credentialId: string;
  readonly principalId: string;
  readonly name: string;
  /** Exactly one: the client certificate (pinned by its SHA-256), a subject or a SAN rule. */
  readonly pem?: string | undefined;
  readonly subject?: string | undefined;
  readonly san?: string | undefined;
  /** The CA it must chain to, by certificate or fingerprint; neither: the node's client CAs. */
  readonly caPem?: string | undefined;
  readonly caSha256?: string | undefined;
  readonly validUntil?: string | undefined;
  readonly directoryId?: string | undefined;
};

/** The rule from what was sent; judged after the authorization checks (like an OTP seed), so a
 * refusal for lack of rights does not depend on the input. */
const ruleOf = (input: RegisterCertificateInput, now: number): CertificateMatch => {
  const given = [input.pem, input.subject, input.san].filter((v) => v !== undefined).length;
  if (given !== 1) throw invalid('pem', 'send exactly one of pem, subject and san');
  if (input.subject !== undefined)
    return { kind: 'subject', subject: normalizeSubject(input.subject) };
  if (input.san !== undefined) return { kind: 'san', san: normalizeSan(input.san) };
  const cert = parseCertificate(input.pem ?? '');
  if (!cert) throw invalid('pem', 'must be one X.509 certificate in PEM');
  if (!clientUsable(cert))
    throw invalid('pem', 'is a CA certificate, or its extended key usage excludes clientAuth');
  if (notAfter(cert) < now) throw invalid('pem', `expired on ${cert.validTo}`);
  return { kind: 'fingerprint', sha256: sha256Of(cert) };
};

/** A certificate credential: the same guards as enrolling OTP or allowing a subnet (the owner
 * itself, or `authlog.principals.manage` dominating the owner; an elevated session). */
export const registerCertificate = (
  input: RegisterCertificateInput,
): Command<{ credentialId: string; match: CertificateMatch; issuerCaSha256: string | null }> => ({
  name: 'RegisterCertificate',
  decide(state, meta) {
    const { owner, authority } = credentialOwner(state, meta, input.principalId);
    requireElevation(meta);
    const directory = credentialDirectory(
      state,
      input.directoryId ?? CERTIFICATE_DIRECTORY,
      'certificate',
    );
    const match = ruleOf(input, meta.now);
    const issuerCaSha256 = issuerPin(input.caPem, input.caSha256);
    return {
      events: [
        {
          type: 'CertificateRegistered',
          data: {
            credentialId: input.credentialId,
            principalId: owner.id,
            directoryId: directory.id,
            name: text('name', input.name, 100),
            match,
            issuerCaSha256,
            validUntil: parseValidUntil(input.validUntil, meta.now),
          },
        },
      ],
      result: { credentialId: input.credentialId, match, issuerCaSha256 },
      authority,
    };
  },
});

/** Denies a certificate (or every certificate a CA signed) to every principal, at every site once
 * replicated: administrators only (it can lock anyone out), elevated. */
export const revokeCertificateFingerprint = (input: {
  readonly sha256?: string | undefined;
  readonly pem?: string | undefined;
  readonly reason?: string | undefined;
}): Command<{ sha256: string; revoked: true }> => ({
  name: 'RevokeCertificateFingerprint',
  decide(state, meta) {
    const authority = requirePrivilege(state, meta, ADMIN_PRIVILEGE);
    requireElevation(meta);
    if ((input.sha256 === undefined) === (input.pem === undefined))
      throw invalid('sha256', 'send sha256 or pem, one of them');
    let sha256: string;
    if (input.pem !== undefined) {
      const cert = parseCertificate(input.pem);
      if (!cert) throw invalid('pem', 'must be one X.509 certificate in PEM');
      sha256 = sha256Of(cert);
    } else sha256 = fingerprintOf('sha256', input.sha256 ?? '');
    const reason = text('reason', input.reason ?? '', 200, { optional: true });
    if (revokedFingerprints(state, [sha256]).size > 0)
      return { events: [], result: { sha256, revoked: true }, authority };
    return {
      events: [{ type: 'CertificateFingerprintRevoked', data: { sha256, reason } }],
      result: { sha256, revoked: true },
      authority,
    };
  },
});

export type CertificateView = {
  readonly credentialId: string;
  readonly name: string;
  readonly directoryId: string;
  readonly match: CertificateMatch;
  readonly issuerCaSha256: string | null;
  readonly createdAt: string;
  readonly validUntil: string | null;
  readonly revoked: boolean;
};

/** A principal's certificate credentials: the rules, which are public data, nothing else. */
export const listCertificates = (read: Reader, principalId: string): CertificateView[] => {
  if (!getPrincipal(read, principalId))
    throw new AppError('PRINCIPAL_NOT_FOUND', `no principal ${principalId}`);
  return certificateRecordsOf(read, principalId).map((r) => ({
    credentialId: r.id,
    name: r.name,
    directoryId: r.directoryId,
    match: r.match,
    issuerCaSha256: r.issuerCaSha256,
    createdAt: r.createdAt,
    validUntil: r.validUntil,
    revoked: r.revoked,
  }));
};

// ---------------------------------------------------------------------------------------------
// The evidence provider

type Prepared = {
  readonly leaf: X509Certificate;
  readonly sha256: string;
  /** The configured CAs it chains to (SHA-256), at the time of `prepare`. */
  readonly anchors: readonly string[];
};

/**
 * `trust` evidence when the presented certificate matches a live certificate credential of the
 * principal (in a credential directory the login may use) and checks: within its validity dates,
 * usable by a TLS client, chained to the credential's CA (or any configured client CA), and
 * neither it nor a CA on its path revoked by fingerprint. The evidence lasts the directory's
 * lifetime, capped at the certificate's notAfter. A certificate that matches no credential is no
 * attempt (`none`, like an address outside every subnet); one that matches a credential but fails
 * a check is a failed attempt (`certificate:<why>`), recorded and counted towards lockout.
 */
export const certificateProvider = (
  trust: ClientCertificateTrust,
): EvidenceProvider<Prepared | undefined> => ({
  method: 'certificate',
  async prepare(context) {
    const presented = context.presented.certificate;
    const leaf = presented === undefined ? undefined : parseCertificate(presented.pem);
    if (leaf === undefined) return undefined;
    return { leaf, sha256: sha256Of(leaf), anchors: anchorsOf(leaf, trust, context.now) };
  },
  decide(context, prepared) {
    if (prepared === undefined || context.presented.certificate === undefined) return 'none';
    const { leaf, sha256, anchors } = prepared;
    const { now } = context;
    const candidates = unrevokedCertificatesOf(context.state, context.principalId).filter(
      (r) =>
        isLive(r, now) &&
        directoryAllowed(context, r.directoryId) &&
        certificateMatches(r.match, leaf, sha256),
    );
    if (candidates.length === 0) return 'none';
    if (!validAt(leaf, now)) return { failed: 'certificate:expired' };
    if (!clientUsable(leaf)) return { failed: 'certificate:usage' };
    if (revokedFingerprints(context.state, [sha256, ...anchors]).size > 0)
      return { failed: 'certificate:revoked' };
    const hit = candidates.find((r) =>
      r.issuerCaSha256 === null ? anchors.length > 0 : anchors.includes(r.issuerCaSha256),
    );
    if (!hit) return { failed: 'certificate:untrusted' };
    const { evidences, expiresAt } = evidenceOf(context.state, hit.directoryId, ['trust'], now);
    return {
      evidences,
      method: 'certificate',
      credentialId: hit.id,
      expiresAt: Math.min(expiresAt, notAfter(leaf)),
      events: [],
    };
  },
});
