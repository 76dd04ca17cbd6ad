// What every way in shares: who an identity names, one answer for every failure, and the cost of
// an attempt on nobody. Answers to a failed attempt are the same whatever failed (unknown identity,
// wrong password, locked, inactive): one code, one body (OWASP ASVS 2.2.1, 3.2; Authentication
// Cheat Sheet "Authentication and error messages").
import { INTERNAL_DIRECTORY, identityHolding } from '../../../projections/identities.ts';
import { AppError } from '../../errors.ts';
import { identityName } from '../../events/normalize.ts';
import type { Reader } from '../../readmodel/projection.ts';
import { dummyHash, verifyPassword } from '../passwords.ts';
import type { AuthnPorts } from './ports.ts';

/** The principal an identity names in a directory (only an identity holding its name). */
export const principalOfIdentity = (
  read: Reader,
  identity: string,
  directoryId: string = INTERNAL_DIRECTORY,
): string | undefined => {
  let key: string;
  try {
    key = identityName('identity', identity).key;
  } catch {
    return undefined;
  }
  return identityHolding(read, directoryId, key)?.principalId;
};

/** One answer for every failed attempt. */
export const failed = (): AppError =>
  new AppError('AUTHENTICATION_FAILED', 'the identity or the credentials are not valid');

/**
 * The timing defence: an identity that names nobody still costs one argon2 verification (against
 * a hash of a random password with the configured parameters), so the answer's timing does not
 * tell whether it exists (OWASP ASVS 2.2.1; Authentication Cheat Sheet "Authentication
 * responses"). A principal without a password pays the same in the password provider.
 */
export const spendVerification = async (ports: AuthnPorts, presented: string): Promise<void> => {
  const verify = ports.verify ?? verifyPassword;
  await verify(await dummyHash(ports.settings.argon2), presented);
};
