// Every evidence provider, in the order a login step asks them (see evidence.ts). Adding a
// credential kind is adding its provider here; the session commands never name kinds.
import {
  type ClientCertificateTrust,
  certificateProvider,
  noClientCertificates,
} from './certificates.ts';
import type { EvidenceProvider } from './evidence.ts';
import { externalAccountProvider } from './external-login.ts';
import { gatewayProvider } from './gateway.ts';
import { otpProvider } from './otp.ts';
import { type Passkeys, passkeyProvider } from './passkeys.ts';
import { passwordProvider } from './password-provider.ts';
import { recoveryCodeProvider } from './recovery-codes.ts';
import type { Keyring } from './seed-crypto.ts';
import { subnetProvider } from './subnets.ts';

/** The providers of a node: OTP opens seeds with the node's keys (`app.otpKeys`); client
 * certificates chain to the node's client CAs; passkeys answer the node's own ceremonies (none:
 * passkeys are off here). */
export const evidenceProviders = (
  otpKeys: Keyring,
  certificates: ClientCertificateTrust = noClientCertificates,
  passkeys?: Passkeys,
): readonly EvidenceProvider<unknown>[] => [
  passwordProvider,
  otpProvider(otpKeys),
  recoveryCodeProvider as EvidenceProvider<unknown>,
  subnetProvider,
  certificateProvider(certificates) as EvidenceProvider<unknown>,
  gatewayProvider,
  externalAccountProvider,
  passkeyProvider(passkeys) as EvidenceProvider<unknown>,
];
