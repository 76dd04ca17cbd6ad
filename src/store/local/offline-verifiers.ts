// A node-local store beside the event log (never replicated, not part of the read model): the
// offline verifiers of external directory accounts (src/directories/service.ts).
//
// Offline logins for a site cut off from its directory, opt-in per directory
// (`offlineCacheSeconds` > 0), as SSSD's cached credentials do: after a successful bind, the node
// keeps an argon2id verifier of the password, in a file of its own (never replicated, never in an
// event), and uses it only while no server of the directory answers. A verifier older than the
// directory's bound is not used and is deleted. The session records the evidence as
// `ldap-offline`, so policies and auditors can tell (NIST SP 800-63B rev 4 3.1.1.2: verifiers
// stored salted and hashed with a memory-hard function).
import Database from 'better-sqlite3';

export type OfflineCache = {
  get(credentialId: string): { readonly verifier: string; readonly storedAt: number } | undefined;
  put(credentialId: string, verifier: string, at: number): void;
  /** The password verified again online: the verifier's age starts again. */
  touch(credentialId: string, at: number): void;
  forget(credentialId: string): void;
  close(): void;
};

/** A cache in `path` (':memory:' for none on disk). */
export const openOfflineCache = (path: string): OfflineCache => {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE IF NOT EXISTS verifiers (
    credential_id TEXT PRIMARY KEY, verifier TEXT NOT NULL, stored_at INTEGER NOT NULL) WITHOUT ROWID`);
  const get = db.prepare<[string], { verifier: string; stored_at: number }>(
    'SELECT verifier, stored_at FROM verifiers WHERE credential_id = ?',
  );
  const put = db.prepare(
    `INSERT INTO verifiers VALUES (?, ?, ?)
     ON CONFLICT (credential_id) DO UPDATE SET verifier = excluded.verifier, stored_at = excluded.stored_at`,
  );
  const touch = db.prepare('UPDATE verifiers SET stored_at = ? WHERE credential_id = ?');
  const forget = db.prepare('DELETE FROM verifiers WHERE credential_id = ?');
  return {
    get(credentialId) {
      const r = get.get(credentialId);
      return r && { verifier: r.verifier, storedAt: r.stored_at };
    },
    put: (credentialId, verifier, at) => void put.run(credentialId, verifier, at),
    touch: (credentialId, at) => void touch.run(at, credentialId),
    forget: (credentialId) => void forget.run(credentialId),
    close: () => db.close(),
  };
};
