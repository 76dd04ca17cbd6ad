// Runs the event store contract against the EventStoreDB adapter: always on the FAKE server
// (test/support/esdb-fake, a protocol-level stand-in that proves the adapter's mapping), and on a
// real EventStoreDB or KurrentDB when ESDB_CONNECTION_STRING is set, e.g.
//   docker run --rm -p 2113:2113 eventstore/eventstore:24.10 --insecure
//   ESDB_CONNECTION_STRING='esdb://127.0.0.1:2113?tls=false' npm run test:unit
import { after, describe, it } from 'node:test';
import { openEsdbStore } from '../../src/store/esdb/esdb-store.ts';
import { type FakeEsdb, startFakeEsdb } from '../support/esdb-fake/fake-server.ts';
import { eventStoreContract, type StoreFactory } from './event-store.contract.ts';

const capabilities = { uniqueEventIds: false };

const factoryFor =
  (connectionString: () => Promise<string>): StoreFactory =>
  async () => {
    const store = openEsdbStore({ connectionString: await connectionString() });
    return { store, cleanup: () => store.close() };
  };

let fake: Promise<FakeEsdb> | undefined;
after(async () => {
  await (await fake)?.stop();
});

eventStoreContract(
  'esdb on the fake server',
  factoryFor(async () => {
    fake ??= startFakeEsdb();
    return (await fake).connectionString;
  }),
  capabilities,
);

const real = process.env.ESDB_CONNECTION_STRING;
if (real) {
  eventStoreContract(
    'esdb on a real server',
    factoryFor(async () => real),
    capabilities,
  );
} else {
  describe('event store contract: esdb on a real server', () => {
    it('runs the contract against EventStoreDB', {
      skip: 'ESDB_CONNECTION_STRING is not set (e.g. esdb://127.0.0.1:2113?tls=false); only the fake server was used',
    }, () => {});
  });
}
