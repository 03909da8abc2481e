// Every conformance case is sent to certrelay and compared with what a real
// influxd 1.6.7 answered and stored for it (influxd-observed.json): the status,
// the error body, and the data. certrelay's data is checked the only way that
// counts: the lines it kept are written to a real influxd, as a forwarder sends
// them (one stored batch per write, precision=ns), and read back the way the
// probe read influxd's own. Every deliberate difference is listed in
// differences.ts, with the reason.
import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import type { Relay } from '../../src/app.js';
import { parsePrecisionV1, type Precision } from '../../src/line-protocol/precision.js';
import { startInfluxd, type Influxd } from '../support/influxd.js';
import { relayFor } from '../support/relay.js';
import { maskReceiveTimes, storedView } from '../support/stored-view.js';
import { cases, type ConformanceCase } from './cases.js';
import { differences, REASONS, type Aspect, type Difference, type Reason } from './differences.js';
import {
  caseRequest,
  readStored,
  recordResponse,
  send,
  shortString,
  stableJson,
  type RawResponse,
  type RecordedResponse,
  type StoredMeasurement,
} from './probe-influxd.js';

interface Observation {
  response: RecordedResponse;
  stored: Record<string, StoredMeasurement>;
  receiveTime?: ReceiveTimeCheck;
}

interface ReceiveTimeCheck {
  rows: number;
  allEqual: boolean;
  truncatedToPrecision: boolean;
}

const observed = JSON.parse(readFileSync(new URL('./influxd-observed.json', import.meta.url), 'utf8')) as {
  influxd: string;
  cases: Record<string, Observation>;
};

const ASPECTS: readonly Aspect[] = ['status', 'body', 'stored'];
const MIN_CASES_COMPARED = 150;
const NS_PER_MS = 1_000_000n;
const nowNs = () => BigInt(Date.now()) * NS_PER_MS;

// ---------------------------------------------------------------------------
// What a case looks like from the outside, on both sides

interface View {
  status: number;
  body: string;
  stored: string[];
  /** The exact stored data, for comparison: the views above are for people. */
  storedExact: string;
}

function viewOf(response: RecordedResponse, stored: Record<string, StoredMeasurement>, receiveTime?: ReceiveTimeCheck): View {
  return {
    status: response.status,
    body: bodyView(response),
    stored: storedView(stored, receiveTime),
    storedExact: stableJson({ stored, receiveTime }),
  };
}

/** '' for an empty body; the error text of {"error": …}; otherwise the content type and the body. */
function bodyView(r: RecordedResponse): string {
  if (r.body === '' && r.bodyBase64 === undefined) return '';
  const json = r.json as Record<string, unknown> | undefined;
  // Go's HTML-safe escapes (\u003e) and the trailing newline are encoding, not content.
  if (json !== undefined && Object.keys(json).length === 1 && typeof json.error === 'string') return json.error;
  const type = (r.headers['content-type'] ?? '').split(';')[0];
  if (r.bodyBase64 !== undefined && type === 'application/x-msgpack') {
    return `${type} ${JSON.stringify(decodeMsgpack(Buffer.from(r.bodyBase64, 'base64')))}`;
  }
  return `${type} ${r.body}`;
}

/** The msgpack influxd writes for an error: a map of short strings. */
function decodeMsgpack(buf: Buffer): unknown {
  let i = 0;
  const str = (): string => {
    const b = buf[i++];
    let n: number;
    if (b >= 0xa0 && b <= 0xbf) n = b - 0xa0;
    else if (b === 0xd9) n = buf[i++];
    else if (b === 0xda) (n = buf.readUInt16BE(i)), (i += 2);
    else throw new Error(`unexpected msgpack byte 0x${b.toString(16)}`);
    const s = buf.toString('utf8', i, i + n);
    i += n;
    return s;
  };
  const head = buf[i++];
  if (head < 0x80 || head > 0x8f) throw new Error(`unexpected msgpack byte 0x${head.toString(16)}`);
  const out: Record<string, string> = {};
  for (let k = 0; k < head - 0x80; k++) out[str()] = str();
  return out;
}

// ---------------------------------------------------------------------------
// Receive time, masked as the probe masks it

const UNIT_NS: Record<Precision, bigint> = { ns: 1n, us: 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/** certrelay truncates receive times to its own reading of the precision (a request it refuses stores nothing). */
const relayUnitNs = (precision: string | undefined): bigint => UNIT_NS[parsePrecisionV1(precision) ?? 'ns'];

// ---------------------------------------------------------------------------
// Sending a case to certrelay, and its stored lines to influxd

function injectedResponse(res: { statusCode: number; headers: Record<string, unknown>; rawPayload: Buffer }): RawResponse {
  const headers: [string, string][] = [];
  for (const [name, value] of Object.entries(res.headers)) {
    for (const v of [value].flat()) if (v !== undefined) headers.push([name.toLowerCase(), String(v)]);
  }
  return { status: res.statusCode, headers, body: res.rawPayload };
}

/** A fresh influxd database per case, for certrelay's stored lines. */
const replayDb = (index: number) => `replay${String(index).padStart(3, '0')}`;

interface Outcome {
  name: string;
  influxd: View;
  certrelay: View;
  /** influxd's answers to the replayed batches, e.g. "204" or "400 partial write: …". */
  replay: string[];
}

/** The relay every case is sent to, and the last batch it stored before the current case. */
interface Subject {
  readonly relay: Relay;
  lastBatchId: number;
}

/**
 * Sends one case (after its prior lines, if any) to the relay, then the batches the
 * relay stored for it to influxd, and reads back what influxd stored.
 */
async function runCase(subject: Subject, influxd: Influxd, k: ConformanceCase, index: number): Promise<Outcome> {
  const { relay } = subject;
  if (k.prior !== undefined) {
    const prior = await relay.app.inject({
      method: 'POST',
      url: `/write?${new URLSearchParams({ db: k.query.db ?? '', precision: 'ns' })}`,
      payload: k.prior,
    });
    if (prior.statusCode !== 204) throw new Error(`prior write of "${k.name}": ${prior.statusCode} ${prior.body}`);
  }
  const req = caseRequest(k);
  // The relay's clock re-anchors to the millisecond wall clock, so it may lag it by up to 1 ms.
  const before = nowNs() - NS_PER_MS;
  const res = await relay.app.inject({ method: 'POST', url: req.path, headers: req.headers, payload: req.body });
  const after = nowNs() + NS_PER_MS;

  const db = replayDb(index);
  const replay: string[] = [];
  for (const batch of relay.store.readBatchesAfter(subject.lastBatchId, Number.MAX_SAFE_INTEGER)) {
    subject.lastBatchId = batch.id;
    const query = new URLSearchParams({ db, ...(batch.rp === '' ? {} : { rp: batch.rp }), precision: 'ns' });
    const answer = await send(influxd.url, { method: 'POST', path: `/write?${query}`, body: Buffer.from(batch.lines, 'utf8') });
    const text = answer.body.toString('utf8').trim();
    replay.push(text === '' ? String(answer.status) : `${answer.status} ${shortString(text)}`);
  }
  if (!influxd.alive()) throw new Error(`influxd died on the replay of "${k.name}":\n${influxd.logs()}`);
  const replayed = await readStored(influxd, db);
  const receiveTime = k.receiveTime ? maskReceiveTimes(replayed, relayUnitNs(k.query.precision), before, after) : undefined;

  const o = observed.cases[k.name];
  return {
    name: k.name,
    influxd: viewOf(o.response, o.stored, o.receiveTime),
    certrelay: viewOf(recordResponse(injectedResponse(res)), replayed, receiveTime),
    replay,
  };
}

function differs(o: Outcome, what: Aspect): boolean {
  if (what === 'stored') return o.influxd.storedExact !== o.certrelay.storedExact;
  return o.influxd[what] !== o.certrelay[what];
}

// ---------------------------------------------------------------------------
// The cases

const documented = new Map<string, Difference>();
for (const d of differences) {
  const key = `${d.case}\u0000${d.what}`;
  if (documented.has(key)) throw new Error(`differences.ts lists "${d.case}" (${d.what}) twice`);
  documented.set(key, d);
}

const DOCS_SECTION = 'Where certrelay differs, on purpose';

/** The case names listed under "Where certrelay differs, on purpose" in docs/influxd-differences.md. */
function casesInDocs(): Set<string> {
  const page = readFileSync(new URL('../../docs/influxd-differences.md', import.meta.url), 'utf8');
  const section = page.split(/^## /m).find((s) => s.startsWith(DOCS_SECTION)) ?? '';
  const names = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
  return new Set(names);
}

t.test('every /write case is answered and stored as by influxd 1.6.7, or differs as differences.ts says', async (t) => {
  const influxd = await startInfluxd();
  t.teardown(() => influxd.stop());
  // One relay for every case, as in production: the cases share nothing but its store,
  // and each case's batches are the ones appended after the previous case's.
  const subject: Subject = { relay: relayFor(t), lastBatchId: 0 };
  // One fresh database per case, all created in one request.
  const q = cases.map((_, i) => `CREATE DATABASE ${replayDb(i)}`).join('; ');
  const res = await fetch(`${influxd.url}/query`, { method: 'POST', body: new URLSearchParams({ q }) });
  const text = await res.text();
  if (res.status !== 200 || text.includes('"error"')) throw new Error(`creating the replay databases: ${res.status} ${text}`);

  const outcomes = new Map<string, Outcome>();
  const undocumented: Array<{ case: string; what: Aspect; influxd: unknown; certrelay: unknown; replay: string[] }> = [];

  for (const [index, k] of cases.entries()) {
    await t.test(k.name, async (t) => {
      const o = await runCase(subject, influxd, k, index);
      outcomes.set(k.name, o);
      for (const what of ASPECTS) {
        if (!differs(o, what)) {
          t.pass(`${what} as influxd`);
          continue;
        }
        const d = documented.get(`${k.name}\u0000${what}`);
        if (d !== undefined) {
          t.pass(`${what} differs, documented: ${d.reason}`);
          continue;
        }
        undocumented.push({ case: k.name, what, influxd: o.influxd[what], certrelay: o.certrelay[what], replay: o.replay });
        if (what !== 'stored') {
          t.equal(o.certrelay[what], o.influxd[what], `${what} as influxd`);
        } else if (o.certrelay.stored.join('\n') !== o.influxd.stored.join('\n')) {
          t.same(o.certrelay.stored, o.influxd.stored, `stored as influxd (influxd's answers to the replay: ${o.replay.join('; ') || 'none'})`);
        } else {
          t.equal(o.certrelay.storedExact, o.influxd.storedExact, 'stored exactly as influxd');
        }
      }
    });
  }

  t.test('the differences table has no stale entries, and the docs list each of its cases', async (t) => {
    for (const d of differences) {
      const o = outcomes.get(d.case);
      if (o === undefined) {
        t.fail(`differences.ts: no case named "${d.case}"`);
        continue;
      }
      t.ok(differs(o, d.what), `"${d.case}" still differs in ${d.what}`);
      t.same(d.influxd, o.influxd[d.what], `"${d.case}" ${d.what}: influxd's value as observed`);
      t.same(d.certrelay, o.certrelay[d.what], `"${d.case}" ${d.what}: certrelay's value as observed`);
      t.ok(d.why.trim().length > 40, `"${d.case}" ${d.what}: says why`);
    }
    const used = new Set(differences.map((d) => d.reason));
    t.same(Object.keys(REASONS).filter((r) => !used.has(r as Reason)), [], 'every reason in differences.ts has a case');
    t.same([...casesInDocs()].sort(), [...new Set(differences.map((d) => d.case))].sort(), `docs/influxd-differences.md "${DOCS_SECTION}" lists the cases of differences.ts`);
  });

  t.test('summary', async (t) => {
    const compared = [...outcomes.values()];
    t.ok(compared.length >= MIN_CASES_COMPARED, `${compared.length} cases compared (at least ${MIN_CASES_COMPARED})`);
    const identical = compared.filter((o) => ASPECTS.every((what) => !differs(o, what)));
    const byReason = new Map<Reason, Set<string>>();
    for (const d of differences) byReason.set(d.reason, (byReason.get(d.reason) ?? new Set()).add(d.case));
    t.comment(`${compared.length} cases compared with ${observed.influxd}: ${identical.length} identical (status, body and stored data)`);
    t.comment(`${new Set(differences.map((d) => d.case)).size} cases differ as documented (${differences.length} entries in differences.ts), by reason:`);
    for (const [reason, names] of [...byReason].sort((a, b) => b[1].size - a[1].size)) t.comment(`  ${reason}: ${names.size}`);
    if (undocumented.length > 0) {
      t.comment(`${new Set(undocumented.map((u) => u.case)).size} cases differ without an entry (${undocumented.length} aspects)`);
    }
    // To draft entries: CONFORMANCE_UNDOCUMENTED=/tmp/undocumented.json npx tap test/conformance/conformance.test.ts
    const out = process.env.CONFORMANCE_UNDOCUMENTED;
    if (out !== undefined && out !== '') writeFileSync(out, JSON.stringify(undocumented, null, 2) + '\n');
  });
});
