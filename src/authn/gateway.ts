// Logging in through the trusted gateway (issue 17 item 6; scenario 10): a reverse proxy that
// authenticated the user itself names it in `Remote-User`, and POST /v1/auth/gateway-login turns
// that into a session. The edge sets `presented.gateway` only when the socket peer is in
// AUTHLOG_GATEWAY_CIDRS (src/http/proxy.ts `trustedRemoteUser`) and the identity is the header's
// name in AUTHLOG_GATEWAY_DIRECTORY; the Login command then runs as for any login (lockout, an
// inactive or unknown principal refused alike, failures recorded). The evidence is `trust`,
// recorded under the seeded `gateway` credential directory (its id is the credential id: the
// gateway is one credential shared by everyone behind it), for that directory's lifetime. It is
// never a password: elevation still asks for what the policy says (by default a password).
import { directoryAllowed, type EvidenceProvider } from './evidence.ts';
import { evidenceOf, GATEWAY_DIRECTORY } from './factors.ts';

export const gatewayProvider: EvidenceProvider = {
  method: 'gateway',
  decide(context) {
    if (context.presented.gateway !== true || !directoryAllowed(context, GATEWAY_DIRECTORY))
      return 'none';
    const { evidences, expiresAt } = evidenceOf(
      context.state,
      GATEWAY_DIRECTORY,
      ['trust'],
      context.now,
    );
    return { evidences, method: 'gateway', credentialId: GATEWAY_DIRECTORY, expiresAt, events: [] };
  },
};
