import type { StoreConfig } from '../config.ts';
import { ConfigError } from '../config.ts';
import type { EventStore } from './port.ts';
import { openSqliteStore } from './sqlite/sqlite-store.ts';

/** Opens the event store the configuration names. */
export const openStore = (config: StoreConfig): EventStore => {
  switch (config.kind) {
    case 'sqlite':
      return openSqliteStore({ path: config.path });
    case 'esdb':
      throw new ConfigError([
        'AUTHLOG_STORE=esdb: the EventStoreDB adapter is not built yet (see README, "Not done yet")',
      ]);
  }
};
