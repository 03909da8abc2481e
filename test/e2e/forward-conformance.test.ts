// The whole 1.x path against a real influxd 1.6.7: every conformance case is
// written to certrelay exactly as it was written to influxd directly, the
// relay's own forwarder delivers what it kept to influxd (the target), and what
// the target then stores must equal what influxd stored for the direct write
// (influxd-observed.json), value for value and nanosecond for nanosecond.
// The answers must agree as well (2xx vs 4xx). Deliberate differences come from
// test/conformance/differences.ts: there the target must store what that table
// says certrelay stores.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { classify } from '../../src/forward/classify.js';
import { parsePrecisionV1, type Precision } from '../../src/line-protocol/precision.js';
import { cases, type ConformanceCase } from '../conformance/cases.js';
import { differences, type Aspect, type Difference, type Reason } from '../conformance/differences.js';
import {
  caseRequest,
  readStored,
  stableJson,
  type ReceiveTimeCheck,
  type RecordedResponse,
  type StoredMeasurement,
} from '../conformance/probe-influxd.js';
import { until } from '../support/fake-target.js';
import { quoteIdent, startInfluxd } from '../support/influxd.js';
import { relayFor } from '../support/relay.js';
import { maskReceiveTimes, storedView } from '../support/stored-view.js';

interface Observation {
  response: RecordedResponse;
  stored: Record<string, StoredMeasurement>;
  receiveTime?: ReceiveTimeCheck;
}

const observed = JSON.parse(readFileSync(new URL('../conformance/influxd-observed.json', import.meta.url), 'utf8')) as {
  influxd: string;
  cases: Record<string, Observation>;
};

const TARGET = 'influxd';
const NS_PER_MS = 1_000_000n;
const nowNs = () => BigInt(Date.now()) * NS_PER_MS;
const UNIT_NS: Record<Precision, bigint> = { ns: 1n, us: 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };
/** A case's own delivery, poison 500s included (three retries, a probe, a bisection), takes well under this. */
const DELIVERY_TIMEOUT_MS = 20_000;

/**
 * Where the forwarder stores more than both the direct write and the
 * batch-by-batch replay of test/conformance (differences.ts) store: influxd
 * answers a request holding a 100-tag point with a panic (500) and loses all of
 * it, good points included. The forwarder proves the server healthy with an
 * empty write, bisects, dead-letters only the poison point and delivers the rest.
 */
const FORWARDER_SAVES: ReadonlyMap<string, readonly string[]> = new Map([
  ['many: a good point, then one with exactly 100 tags', ['good: fields f:float; series good', 'good f=1 1656169934438253518']],
]);

const documented = new Map<string, Difference>(differences.map((d) => [`${d.case}\u0000${d.what}`, d]));
const documentedFor = (name: string, what: Aspect) => documented.get(`${name}\u0000${what}`);

/** The database a case writes to, when influxd had it (the probe created it before the case). */
function caseDatabase(k: ConformanceCase): string | undefined {
  const db = k.query.db;
  return db === undefined || db === '' || k.createDb === false ? undefined : db;
}

/**
 * The databases the target takes: every case database, except where influxd's
 * direct answer means "refuse everything until an operator acts" (404 database
 * not found, 500 retention policy not found). There the relay keeps the data
 * and holds that destination (a held dead letter) until the target accepts it, as it must (test/forward covers it); a case
 * cannot end in a comparison.
 */
function forwardedDatabases(): Set<string> {
  const out = new Set<string>();
  const held = new Set<string>();
  for (const k of cases) {
    const db = caseDatabase(k);
    if (db === undefined) continue;
    const { response } = observed.cases[k.name];
    const outcome = classify({ kind: 'response', status: response.status, body: response.body });
    if (outcome.action === 'hold') held.add(db);
    else out.add(db);
  }
  for (const db of held) out.delete(db);
  return out;
}

const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;
const accepted = (r: RecordedResponse) => (r.status >= 200 && r.status < 300) || (r.status === 400 && /^partial write/.test(String((r.json as { error?: unknown } | undefined)?.error ?? '')));

interface Result {
  readonly name: string;
  readonly acceptedDirectly: boolean;
  readonly forwarded: boolean;
  readonly status: 'agrees' | Reason | 'differs';
  readonly stored: 'identical' | Reason | 'saved by bisection' | 'differs' | 'not forwarded';
  readonly deadLetters: number;
}

t.test('every conformance case, written through certrelay and forwarded to a real influxd, is stored there as a direct write stores it', async (t) => {
  const started = performance.now();
  const influxd = await startInfluxd();
  t.teardown(() => influxd.stop());
  const databases = forwardedDatabases();
  const q = [...databases].map((db) => `CREATE DATABASE ${quoteIdent(db)}`).join('; ');
  const created = await fetch(`${influxd.url}/query`, { method: 'POST', body: new URLSearchParams({ q }) });
  const createdText = await created.text();
  if (created.status !== 200 || createdText.includes('"error"')) throw new Error(`creating the case databases: ${created.status} ${createdText}`);

  const relay = relayFor(
    t,
    `
[[targets]]
name = "${TARGET}"
kind = "influxdb-v1"
url = "${influxd.url}"
databases = ${JSON.stringify([...databases])}
timeout_ms = 10000
retry_initial_ms = 20
retry_max_ms = 200
`,
  );
  let lastBatchId = 0;
  let lastDeadLetterId = 0;
  /** The last batch id the relay has stored; the forwarder has delivered a case when its cursor is there. */
  const tail = (): number => {
    const heads = relay.store.readBatchHeadsAfter(lastBatchId, Number.MAX_SAFE_INTEGER);
    if (heads.length > 0) lastBatchId = heads[heads.length - 1].id;
    return lastBatchId;
  };
  const delivered = async (t: Test, what: string): Promise<void> => {
    const id = tail();
    await until(
      t,
      `${what} is delivered (cursor at batch ${id})`,
      () => {
        const status = relay.forwarding.statuses()[0];
        if (status.heldBecause !== null) throw new Error(`the target is held (${status.heldBecause}): ${status.lastError}`);
        return (relay.store.cursor(TARGET) ?? 0) >= id;
      },
      DELIVERY_TIMEOUT_MS,
    );
  };

  const results: Result[] = [];
  for (const k of cases) {
    await t.test(k.name, async (t) => {
      const o = observed.cases[k.name];
      const db = caseDatabase(k);
      const forwarded = db !== undefined && databases.has(db);
      if (k.prior !== undefined) {
        const prior = await relay.app.inject({ method: 'POST', url: `/write?${new URLSearchParams({ db: db ?? '', precision: 'ns' })}`, payload: k.prior });
        t.equal(prior.statusCode, 204, 'the prior lines are accepted');
        if (forwarded) await delivered(t, 'the prior write');
      }
      const req = caseRequest(k);
      // The relay's clock re-anchors to the millisecond wall clock, so it may lag it by up to 1 ms.
      const before = nowNs() - NS_PER_MS;
      const res = await relay.app.inject({ method: 'POST', url: req.path, headers: req.headers, payload: req.body });
      const after = nowNs() + NS_PER_MS;

      // 2xx vs 4xx (vs 5xx), as influxd answered the direct write.
      let status: Result['status'] = 'agrees';
      if (statusClass(res.statusCode) === statusClass(o.response.status)) {
        t.pass(`${statusClass(res.statusCode)} as influxd (${res.statusCode} vs ${o.response.status})`);
      } else {
        const d = documentedFor(k.name, 'status');
        if (d !== undefined && d.certrelay === res.statusCode) {
          status = d.reason;
          t.pass(`status ${res.statusCode} where influxd answered ${o.response.status}: documented (${d.reason})`);
        } else {
          status = 'differs';
          t.equal(res.statusCode, o.response.status, `status as influxd (body: ${res.body})`);
        }
      }

      let storedOutcome: Result['stored'] = 'not forwarded';
      let deadLetters = 0;
      if (forwarded) {
        await delivered(t, 'the case');
        const stored = await readStored(influxd, db);
        const unit = UNIT_NS[parsePrecisionV1(k.query.precision) ?? 'ns'];
        const receiveTime = k.receiveTime ? maskReceiveTimes(stored, unit, before, after) : undefined;
        if (stableJson({ stored, receiveTime }) === stableJson({ stored: o.stored, receiveTime: o.receiveTime })) {
          storedOutcome = 'identical';
          t.pass('the target stores exactly what influxd stored for the direct write');
        } else {
          const d = documentedFor(k.name, 'stored');
          const view = storedView(stored, receiveTime);
          const saved = FORWARDER_SAVES.get(k.name);
          if (saved !== undefined) {
            storedOutcome = 'saved by bisection';
            t.same(view, saved, 'the target stores the good points of a request influxd lost to a panic');
          } else if (d !== undefined) {
            storedOutcome = d.reason;
            t.same(view, d.certrelay, `the target stores what differences.ts says certrelay stores (${d.reason})`);
          } else {
            storedOutcome = 'differs';
            const expected = storedView(o.stored, o.receiveTime);
            if (view.join('\n') !== expected.join('\n')) t.same(view, expected, 'the target stores what influxd stored for the direct write');
            else t.equal(stableJson({ stored, receiveTime }), stableJson({ stored: o.stored, receiveTime: o.receiveTime }), 'stored exactly as influxd');
          }
        }

        const dead = relay.store.listDeadLetters({ target: TARGET }, 1000, lastDeadLetterId);
        deadLetters = dead.reduce((n, d) => n + d.points, 0);
        if (dead.length > 0) lastDeadLetterId = dead[dead.length - 1].id;
        const directError = (o.response.json as { error?: unknown } | undefined)?.error;
        if (o.response.status >= 200 && o.response.status < 300) {
          t.same(dead.map((d) => d.lines), [], 'nothing influxd took directly is a dead letter');
        } else if (dead.length > 0 && o.response.status < 500 && typeof directError === 'string') {
          // What influxd refused directly, it refuses from the forwarder with the same words.
          t.same(dead.map((d) => d.error), dead.map(() => directError), 'the dead letter carries influxd\'s own reason, as for the direct write');
        }
        for (const d of dead) t.comment(`dead letter: ${d.status} ${d.error.slice(0, 160)}`);
      }
      results.push({ name: k.name, acceptedDirectly: accepted(o.response), forwarded, status, stored: storedOutcome, deadLetters });
    });
  }

  t.test('summary', async (t) => {
    const count = (f: (r: Result) => boolean) => results.filter(f).length;
    const inScope = results.filter((r) => r.acceptedDirectly);
    t.equal(results.length, cases.length, 'every case ran');
    t.ok(inScope.length >= 190, `${inScope.length} cases accepted by influxd directly (2xx or partial write)`);
    t.equal(count((r) => r.acceptedDirectly && !r.forwarded), 0, 'every case influxd accepted went through the forwarder');
    t.equal(count((r) => r.status === 'differs' || r.stored === 'differs'), 0, 'no undocumented difference');
    const reasons = new Map<string, number>();
    for (const r of results) {
      for (const reason of new Set([r.status, r.stored])) {
        if (reason !== 'agrees' && reason !== 'identical' && reason !== 'not forwarded' && reason !== 'differs' && reason !== 'saved by bisection') reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
    }
    t.comment(`${results.length} cases through certrelay → forwarder → ${observed.influxd}, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    t.comment(`accepted by influxd directly: ${inScope.length}; stored identically via the forwarder: ${count((r) => r.acceptedDirectly && r.stored === 'identical')}; documented differences: ${count((r) => r.acceptedDirectly && r.stored !== 'identical' && r.stored !== 'differs')}`);
    t.comment(`refused by influxd directly: ${results.length - inScope.length}; forwarded anyway (certrelay kept lines or nothing): ${count((r) => !r.acceptedDirectly && r.forwarded)}, of which stored identically: ${count((r) => !r.acceptedDirectly && r.stored === 'identical')}`);
    t.comment(`good points saved by the forwarder's bisection where influxd lost the whole request to a panic: ${count((r) => r.stored === 'saved by bisection')} cases`);
    t.comment(`not forwarded (database influxd lacks or holds: 404 / missing rp): ${count((r) => !r.forwarded)}`);
    t.comment(`status class agrees: ${count((r) => r.status === 'agrees')}; differs as documented: ${count((r) => r.status !== 'agrees' && r.status !== 'differs')}`);
    t.comment(`cases with dead letters: ${count((r) => r.deadLetters > 0)} (${results.reduce((n, r) => n + r.deadLetters, 0)} points), each a line influxd refused in the direct write too`);
    t.comment(`cases per documented reason (status or stored): ${[...reasons].map(([r, n]) => `${r} ${n}`).join(', ')}`);
    t.comment(`undocumented differences: ${count((r) => r.status === 'differs' || r.stored === 'differs')}`);
  });
});
