// The durable floor: the least any relay on this stack must do before its 204, and nothing more.
// A bare node:http server reads each body and appends it, unparsed, as one row of a one-table
// SQLite log (WAL, synchronous=FULL, better-sqlite3), through certrelay's own group commit (one
// transaction and one fsync for everything that arrived in the same turn of the event loop), and
// answers 204 after the commit. No parsing, validation, auth, routing, metrics or renewal state.
// Whatever it reaches is an upper bound for certrelay in the same cell (`--servers floor` in
// bench/ingest.ts), so a cell where the floor itself stays under 1.5× influxd cannot meet that goal
// on this machine with Node.js and better-sqlite3.
//
//   node dist/bench/durable-floor.js --listen 127.0.0.1:PORT --store DIR
// GET /ping answers 204 (readiness); GET /points answers the points stored so far (lines of the bodies);
// GET /settings answers the connection's journal_mode and synchronous (2 = FULL), for its test.

import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { GroupCommit } from '../src/log/group-commit.js';
import type { IncomingBatch } from '../src/log/store.js';

const NEWLINE = 0x0a;

const { values } = parseArgs({ options: { listen: { type: 'string' }, store: { type: 'string' } } });
if (values.listen === undefined || values.store === undefined) {
  process.stderr.write('usage: node dist/bench/durable-floor.js --listen HOST:PORT --store DIR\n');
  process.exit(2);
}
const [host, port] = splitHostPort(values.listen);
mkdirSync(values.store, { recursive: true });
const db = new Database(join(values.store, 'floor.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec('CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, points INTEGER NOT NULL, lines BLOB NOT NULL)');
const insert = db.prepare<[number, Uint8Array]>('INSERT INTO batches (points, lines) VALUES (?, ?)');
const appendAll = db.transaction((batches: IncomingBatch[]) => {
  for (const batch of batches) insert.run(batch.points, batch.lines as Uint8Array);
});
const selectPoints = db.prepare<[], number>('SELECT coalesce(sum(points), 0) FROM batches').pluck();
const groupCommit = new GroupCommit(appendAll);

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') {
    if (req.url === '/points') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(String(selectPoints.get()));
    } else if (req.url === '/settings') {
      const settings = { journal_mode: db.pragma('journal_mode', { simple: true }), synchronous: db.pragma('synchronous', { simple: true }) };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(settings));
    } else {
      res.writeHead(204).end();
    }
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const batch: IncomingBatch = { db: 'floor', rp: '', lines: body, points: countLines(body), receivedAtMs: Date.now() };
    groupCommit.submit([batch]).then(
      () => res.writeHead(204).end(),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, host);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void groupCommit.drain().then(() => {
      db.close();
      process.exit(0);
    });
  });
}

/** Lines in a body, a last line without its "\n" included (the load generator's bodies are certbot lines). */
function countLines(body: Buffer): number {
  let lines = 0;
  for (let at = body.indexOf(NEWLINE); at !== -1; at = body.indexOf(NEWLINE, at + 1)) lines++;
  return body.length > 0 && body[body.length - 1] !== NEWLINE ? lines + 1 : lines;
}

function splitHostPort(listen: string): [string, number] {
  const colon = listen.lastIndexOf(':');
  return [listen.slice(0, colon), Number(listen.slice(colon + 1))];
}
