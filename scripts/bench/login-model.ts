// What both sides of bench:login agree on: the users' names and their password.
export const PASSWORD = 'bench login passphrase 2026';
export const userName = (i: number): string => `bench-user-${i}`;
export const ldapUserName = (i: number): string => `ldap-user-${i}`;
