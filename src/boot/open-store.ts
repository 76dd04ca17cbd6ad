import { withoutCredentials } from '../store/esdb/connection-string.ts';
import { openEsdbStore } from '../store/esdb/esdb-store.ts';
import type { EventStore } from '../store/port.ts';
import { openSqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { StoreConfig } from './config.ts';
import { ConfigError } from './config.ts';

/** Opens the event store the configuration names. */
export const openStore = (config: StoreConfig): EventStore => {
  switch (config.kind) {
    case 'sqlite':
      return openSqliteStore({ path: config.path });
    case 'esdb':
      try {
        return openEsdbStore({ connectionString: config.connectionString });
      } catch (error) {
        const reason = error instanceof Error ? withoutCredentials(error.message) : String(error);
        throw new ConfigError([`ESDB_CONNECTION_STRING is not valid: ${reason}`]);
      }
  }
};
