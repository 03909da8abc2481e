// Micro-benchmark of the line-protocol parser alone: lines/s and MB/s on one core.
// Run: npx tsx bench/parse.ts

import { parseLines } from '../src/line-protocol/parse.js';

const LINES_PER_BODY = 5000;
const WARMUP_MS = 1500;
const MEASURE_MS = 3000;
const FIRST_TS = 1656169934438253518n;

function certbotBody(): string {
  const lines: string[] = [];
  for (let k = 0; k < LINES_PER_BODY; k++) {
    lines.push(`certbot_renewal,domain=example.com,host=optimus renewed_count=1 ${FIRST_TS + BigInt(k)}`);
  }
  return lines.join('\n');
}

// The shape Telegraf's cpu input writes: two tags, ten float fields, a ns timestamp.
function telegrafCpuBody(): string {
  const lines: string[] = [];
  for (let k = 0; k < LINES_PER_BODY; k++) {
    const idle = (90 + (k % 100) / 10).toFixed(14);
    lines.push(
      `cpu,cpu=cpu${k % 8},host=optimus usage_guest=0,usage_guest_nice=0,usage_idle=${idle},` +
        'usage_iowait=0.10050251256281408,usage_irq=0,usage_nice=0,usage_softirq=0.10050251256281408,' +
        `usage_steal=0,usage_system=0.8040201005025126,usage_user=1.507537688442211 ${1656169930000000000n + BigInt(k) * 10_000_000_000n}`,
    );
  }
  return lines.join('\n');
}

function run(name: string, body: string): void {
  const bytes = Buffer.byteLength(body);
  const check = parseLines(body);
  if (check.errors.length > 0 || check.points.length !== LINES_PER_BODY) {
    throw new Error(`${name}: expected ${LINES_PER_BODY} points, got ${check.points.length} and ${check.errors.length} errors`);
  }
  let sink = 0;
  const until = (ms: number): { bodies: number; ns: bigint } => {
    const start = process.hrtime.bigint();
    const stop = start + BigInt(ms) * 1_000_000n;
    let bodies = 0;
    let now = start;
    while (now < stop) {
      sink += parseLines(body).points.length;
      bodies++;
      now = process.hrtime.bigint();
    }
    return { bodies, ns: now - start };
  };
  until(WARMUP_MS);
  const { bodies, ns } = until(MEASURE_MS);
  const seconds = Number(ns) / 1e9;
  const linesPerSecond = (bodies * LINES_PER_BODY) / seconds;
  const mbPerSecond = (bodies * bytes) / seconds / 1e6;
  console.log(
    `${name.padEnd(22)} ${Math.round(linesPerSecond).toLocaleString('en-US').padStart(11)} lines/s  ` +
      `${mbPerSecond.toFixed(1).padStart(6)} MB/s  (${(bytes / LINES_PER_BODY).toFixed(0)} B/line, ${bodies} bodies of ${LINES_PER_BODY} lines)`,
  );
  if (sink === 0) console.log('unreachable');
}

run('certbot_renewal', certbotBody());
run('telegraf cpu (10 fields)', telegrafCpuBody());
