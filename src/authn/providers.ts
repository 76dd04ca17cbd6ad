// Every evidence provider, in the order a login step asks them (see evidence.ts). Adding a
// credential kind is adding its provider here; the session commands never name kinds.
import type { EvidenceProvider } from './evidence.ts';
import { otpProvider } from './otp.ts';
import { passwordProvider } from './password-provider.ts';
import type { Keyring } from './seed-crypto.ts';
import { subnetProvider } from './subnets.ts';

/** The providers of a node: OTP opens seeds with the node's keys (`app.otpKeys`). */
export const evidenceProviders = (otpKeys: Keyring): readonly EvidenceProvider<unknown>[] => [
  passwordProvider,
  otpProvider(otpKeys),
  subnetProvider,
];
