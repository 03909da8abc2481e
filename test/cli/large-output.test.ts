// A command's whole output reaches a pipe: `certrelay renewals --json | jq` on a fleet
// whose JSON is far larger than a pipe's 64 KiB buffer. The process used to exit as soon as
// it had queued its output, and a reader got the first 64 KiB, with exit code 0.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { relayFor } from '../support/relay.js';

const CERTIFICATES = 3000;

t.test('renewals --json: a document of several hundred KiB arrives whole through a pipe', async (t) => {
  const relay = relayFor(t);
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const lines = Array.from({ length: CERTIFICATES }, (_, i) => `certbot_renewal,domain=site-${i}.example.com,host=web-${i % 40} renewed_count=1 ${nowNs}`);
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload: lines.join('\n') })).statusCode, 204);
  const storeDir = join(relay.store.file, '..');
  await relay.close();
  const config = join(storeDir, '..', 'cli.toml');
  writeFileSync(config, `[store]\npath = "${storeDir}"\n`);

  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'renewals', '--json', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0, stderr);
  const text = Buffer.concat(chunks).toString('utf8');
  t.ok(text.length > 256 * 1024, `the document is larger than a pipe's buffer (${text.length} bytes)`);
  const doc = JSON.parse(text) as { certificates: unknown[] };
  t.equal(doc.certificates.length, CERTIFICATES, 'every certificate is in it');
});
