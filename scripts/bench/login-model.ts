// What both sides of bench:login agree on: the users' names and their password.
export const PASSWORD = 'bench login passphrase 2026';
export const userName = (i: number): string => `bench-user-${i}`;
export const ldapUserName = (i: number): string => `ldap-user-${i}`;
/** The server's operator token: the passkey row registers its users' passkeys with it. */
export const OPERATOR_TOKEN = 'bench-operator-token-0123456789abcdefghij';
