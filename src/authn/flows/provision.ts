// Logins through an identity directory that an external directory provisions (src/authn/
// provision.ts): the typed name in the directory's own form (AD: `CORP\user`, `user@corp.example`
// are `user`), and a person seen for the first time provisioned once the directory accepts the
// password — after the throttle, like every other attempt. Failures are not answered apart
// (identify.ts): the caller goes on as for a name that names nobody.
import { AppError } from '../../errors.ts';
import { provisionAccount } from '../provision.ts';
import type { AuthnPorts, Caller } from './ports.ts';

/** The login name as the identity directory's provisioning directory knows it. */
export const canonicalName = (ports: AuthnPorts, identityDirectoryId: string, typed: string) =>
  ports.directories?.canonicalName(ports.read, identityDirectoryId, typed) ?? typed;

/** The principal of a person the provisioning directory knows, provisioned now; undefined when
 * none provisions this identity directory, or it refuses the name or the password. Throws
 * DIRECTORY_UNAVAILABLE when no server answers. */
export const provisionOnFirstLogin = async (
  ports: AuthnPorts,
  caller: Caller,
  identityDirectoryId: string,
  name: string,
  password: string | undefined,
): Promise<string | undefined> => {
  const directories = ports.directories;
  if (directories === undefined || password === undefined) return undefined;
  const source = directories.provisioner(ports.read, identityDirectoryId);
  if (source === undefined) return undefined;
  const found = await directories.authenticateName(ports.read, source, name, password);
  if (!found.ok) return undefined;
  try {
    const { principalId } = await caller.execute(
      provisionAccount({ directoryId: source, identityDirectoryId, account: found.account }),
    );
    return principalId;
  } catch (err) {
    // The directory's name is held by someone else here, its principal was deleted, or the
    // directory answered a name authlog does not accept (control characters, mixed scripts: UTS
    // #39): no login through it (recorded by the caller as an unknown identity).
    if (
      err instanceof AppError &&
      ['IDENTITY_NAME_TAKEN', 'PRINCIPAL_DELETED', 'VALIDATION_FAILED'].includes(err.code)
    )
      return undefined;
    throw err;
  }
};
