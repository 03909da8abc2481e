// `node dist/bench/body-memory.js [--bodies 16] [--kind tiny|certbot]`: the
// relay's peak memory when many large write bodies arrive at once. Each body
// is ~35–80 KB of gzip that inflates to 24 MB (just under server.max_body_bytes):
// tiny lines without a timestamp (`m f=1`, the worst case: the stored form of
// each line is four times longer) or certbot lines. Prints the answers and the
// relay's peak RSS (VmHWM), then checks that the store holds exactly the points
// of the writes answered 204. A figure, not a test.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { startRelay } from './forward.js';

const { values } = parseArgs({ options: { bodies: { type: 'string', default: '16' }, kind: { type: 'string', default: 'tiny' } } });
const bodies = Number(values.bodies);
const kind = values.kind === 'certbot' ? 'certbot' : 'tiny';
const line = kind === 'tiny' ? 'm f=1\n' : 'certbot_renewal,domain=example.com,host=optimus renewed_count=1 1656169934438253518\n';
const lines = Math.floor(24_000_000 / line.length);
const body = gzipSync(Buffer.from(line.repeat(lines)), { level: 9 });

const peakRssMb = (pid: number): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

const dir = mkdtempSync(join(os.tmpdir(), 'certrelay-bench-bodies-'));
const relay = await startRelay({ targets: [], storeMaxBytes: '4GiB', dir, keepDir: true });
try {
  const idle = peakRssMb(relay.pid);
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: bodies }, () =>
      fetch(`${relay.url}/write?db=bench`, { method: 'POST', body, headers: { 'content-encoding': 'gzip' } }).then(
        async (res) => ({ status: res.status, code: res.status === 204 ? '' : ((await res.json()) as { error?: string }).error?.slice(0, 60) ?? '' }),
        (err: Error) => ({ status: 0, code: err.message }),
      ),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const peak = peakRssMb(relay.pid);
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(`${a.status} ${a.code}`.trim(), (counts.get(`${a.status} ${a.code}`.trim()) ?? 0) + 1);
  const accepted = answers.filter((a) => a.status === 204).length;
  await relay.stop();
  const db = new Database(join(relay.storeDir, 'certrelay.db'), { readonly: true });
  const stored = Number(db.prepare('SELECT coalesce(sum(points), 0) FROM batches').pluck().get());
  db.close();
  process.stdout.write(
    `${bodies} bodies of ${lines.toLocaleString('en')} ${kind} lines (${body.length} bytes of gzip, 24 MB inflated), sent at once\n` +
      `answers: ${[...counts].map(([k, n]) => `${n} × ${k}`).join('; ')} in ${seconds.toFixed(1)} s\n` +
      `relay peak RSS: ${peak.toFixed(0)} MB (idle before: ${idle.toFixed(0)} MB)\n` +
      `stored: ${stored.toLocaleString('en')} points; expected ${(accepted * lines).toLocaleString('en')} (${accepted} writes answered 204)\n`,
  );
  if (stored !== accepted * lines) process.exitCode = 1;
} finally {
  if (relay.alive()) await relay.stop();
  rmSync(dir, { recursive: true, force: true });
}
