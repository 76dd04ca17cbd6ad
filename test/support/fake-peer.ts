// A fake replication peer, run as its own process: it serves, as `GET /v1/replication/feed`, the
// events a JSON file lists, whatever they are — forged, re-signed, reordered. Tests write the file
// and change it between pulls; the cursor is the index of the next event in that list.
//
//   node --import tsx test/support/fake-peer.ts <feed.json>
//
// Prints `listening <port>` once it listens on loopback. Any bearer token is accepted.
import { readFileSync } from 'node:fs';
import http from 'node:http';

const file = process.argv[2];
if (!file) throw new Error('usage: fake-peer.ts <feed.json>');

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/v1/replication/feed') {
    res.writeHead(404).end();
    return;
  }
  let events: unknown[];
  try {
    ({ events } = JSON.parse(readFileSync(file, 'utf8')) as { events: unknown[] });
  } catch (err) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end(String(err));
    return;
  }
  const after = Number(url.searchParams.get('after') || '0');
  const limit = Number(url.searchParams.get('limit') || '500');
  const page = events.slice(after, after + limit);
  // Nothing new: answer after a moment, as a real feed's long-poll would, not at once.
  setTimeout(
    () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ events: page, next: String(after + page.length), vector: {} }));
    },
    page.length === 0 ? 100 : 0,
  );
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
