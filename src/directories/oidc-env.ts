// What a node adds to an `oidc` directory's shared settings: the client secret, and which of the
// registered redirect URIs is this node's own callback. They come from this node's environment
// (or a file it names), never from an event: the secret would otherwise reach every site and
// every backup of the log (ASVS 5.0 13.3.1: secrets in a secrets store or the environment).
//   AUTHLOG_OIDC_<ID>_CLIENT_SECRET       the client secret
//   AUTHLOG_OIDC_<ID>_CLIENT_SECRET_FILE  or a file holding it (a container secret)
//   AUTHLOG_OIDC_<ID>_REDIRECT_URI        this node's callback: one of the directory's
//                                         `redirectUris` (default: the first)
// <ID> is the directory id in upper case with every other character than A-Z and 0-9 as `_`.
// Without a secret the node is a public client (PKCE only, RFC 7636; RFC 9700 2.1.1).
import { readFileSync } from 'node:fs';
import type { OidcSettings } from '../../projections/external-accounts.ts';
import { AppError } from '../errors.ts';
import type { Env } from './node-settings.ts';

export const oidcEnvPrefix = (directoryId: string): string =>
  `AUTHLOG_OIDC_${directoryId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;

export type OidcNodeSettings = {
  readonly clientSecret: string | undefined;
  readonly redirectUri: string;
};

const fileOrUndefined = (path: string | undefined): string | undefined => {
  if (path === undefined || path === '') return undefined;
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch {
    return undefined;
  }
};

/** This node's secret and callback for the directory; a callback not among the registered ones is
 * refused (the provider would refuse it too, after the user signed in). */
export const oidcNodeSettings = (
  directoryId: string,
  settings: OidcSettings,
  env: Env,
): OidcNodeSettings => {
  const prefix = oidcEnvPrefix(directoryId);
  const secret =
    env(`${prefix}CLIENT_SECRET`) || fileOrUndefined(env(`${prefix}CLIENT_SECRET_FILE`));
  const chosen = env(`${prefix}REDIRECT_URI`);
  const redirectUri = chosen === undefined || chosen === '' ? settings.redirectUris[0] : chosen;
  if (redirectUri === undefined || !settings.redirectUris.includes(redirectUri))
    throw new AppError(
      'EXTERNAL_PROVIDER_UNAVAILABLE',
      `this node's ${prefix}REDIRECT_URI is not one of directory ${directoryId}'s redirect URIs`,
    );
  return { clientSecret: secret || undefined, redirectUri };
};
