// What a node adds to a directory's shared settings: the service account's password, and, when
// this site has its own replica of the directory, its own server URLs and CA. They come from this
// node's environment (or files it names), never from an event: an event naming a file to read, or
// carrying a secret, would let whoever may define directories read a node's files or learn the
// password (ASVS 5.0 13.3.1: secrets in a secrets store or the environment, not in data shared
// with others).
//   AUTHLOG_LDAP_<ID>_BIND_PASSWORD       the service account's password
//   AUTHLOG_LDAP_<ID>_BIND_PASSWORD_FILE  or a file holding it (a container secret)
//   AUTHLOG_LDAP_<ID>_URLS                comma-separated: this site's servers, in order
//   AUTHLOG_LDAP_<ID>_CA_FILE             the CA (PEM) this site's servers chain to
// <ID> is the directory id in upper case with every other character than A-Z and 0-9 as `_`.
import { readFileSync } from 'node:fs';
import type { LdapSettings } from '../../projections/credentials.ts';
import type { Connection } from './ldap.ts';

export type Env = (name: string) => string | undefined;

export const envPrefix = (directoryId: string): string =>
  `AUTHLOG_LDAP_${directoryId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;

const fileOrUndefined = (path: string | undefined): string | undefined => {
  if (path === undefined || path === '') return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** The URL forms a directory may use: LDAP, or LDAP over TLS. */
export const LDAP_URL = /^ldaps?:\/\/[A-Za-z0-9.\-[\]:]{1,300}(:\d{1,5})?\/?$/;

/** The shared settings with this node's overrides and secret. */
export const connectionOf = (directoryId: string, settings: LdapSettings, env: Env): Connection => {
  const prefix = envPrefix(directoryId);
  const urls = (env(`${prefix}URLS`) ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => LDAP_URL.test(u));
  const password =
    env(`${prefix}BIND_PASSWORD`) ??
    fileOrUndefined(env(`${prefix}BIND_PASSWORD_FILE`))?.replace(/\r?\n$/, '');
  return {
    settings,
    urls: urls.length > 0 ? urls : settings.urls,
    ca: fileOrUndefined(env(`${prefix}CA_FILE`)) ?? settings.caPem,
    bindPassword: password,
  };
};
