// What the renewal tests share: a relay on a given store directory and a fake
// clock (so a test can close it and build another on the same store), and a
// webhook receiver on port 0 that records what it was sent.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { buildApp, type Relay } from '../../src/app.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/load.js';

export const DAY_MS = 86_400_000;
export const MINUTE_MS = 60_000;
/** 2026-01-01T00:00:00Z */
export const START_MS = Date.UTC(2026, 0, 1);

/** A relay whose store lives in dir/store; closing it and calling again reopens the same store. */
export function relayOn(dir: string, toml: string, clock: Clock): Relay {
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, toml);
  const config = loadConfig({ file, env: { CERTRELAY_STORE_PATH: join(dir, 'store'), CERTRELAY_LISTEN: '127.0.0.1:0' } });
  return buildApp(config, { clock });
}

/** One certbot_renewal point at atMs, as the hook writes it; dates in days after atMs. */
export function renewalLine(host: string, domain: string, atMs: number, lifetimeDays?: number): string {
  const dates =
    lifetimeDays === undefined ? '' : `,not_before=${Math.floor(atMs / 1000)}i,not_after=${Math.floor(atMs / 1000) + lifetimeDays * 86_400}i`;
  return `certbot_renewal,domain=${domain},host=${host} renewed_count=1${dates} ${BigInt(atMs) * 1_000_000n}`;
}

export async function write(relay: Relay, body: string): Promise<void> {
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=telegraf', payload: body });
  if (res.statusCode !== 204) throw new Error(`write answered ${res.statusCode}: ${res.body}`);
}

export interface WebhookCall {
  readonly headers: IncomingHttpHeaders;
  readonly body: WebhookPayload;
}

export interface WebhookPayload {
  readonly kind: string;
  readonly host: string;
  readonly domain: string;
  readonly state: string;
  readonly previous_state: string;
  readonly last_success: string | null;
  readonly expected: string;
  readonly overdue_since: string;
  readonly overdue_for_seconds: number;
  readonly message: string;
  readonly at: string;
}

export interface WebhookReceiver {
  readonly url: string;
  /** Accepted calls only, in arrival order. */
  readonly calls: WebhookCall[];
  /** Every request, refused ones included. */
  requests: number;
  /** The status of the next answers (204 by default). */
  status: number;
}

export async function webhookReceiver(t: Test): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = { url: '', calls: [], requests: 0, status: 204 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.requests++;
      if (receiver.status >= 200 && receiver.status < 300) {
        receiver.calls.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookPayload });
      }
      res.statusCode = receiver.status;
      res.end(receiver.status >= 300 ? 'boom' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return Object.assign(receiver, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` });
}

export interface OutboxRow {
  id: number;
  channel: string;
  kind: string;
  host: string;
  domain: string;
  attempts: number;
  delivered_ms: number | null;
  last_error: string | null;
  transition_id: number | null;
}

export function outboxRows(relay: Relay): OutboxRow[] {
  return relay.store.connection
    .prepare('SELECT id, channel, kind, host, domain, attempts, delivered_ms, last_error, transition_id FROM notifications ORDER BY id')
    .all() as OutboxRow[];
}
