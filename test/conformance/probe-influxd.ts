// Sends every conformance case to a real influxd and records what it answered
// and what it stored: `npx tsx test/conformance/probe-influxd.ts` rewrites
// test/conformance/influxd-observed.json. The helpers are exported so the
// conformance test can read certrelay's forwarded data back the same way.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { quoteIdent, startInfluxd, type Influxd } from '../support/influxd.js';
import { cases, type ConformanceCase } from './cases.js';

const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), 'influxd-observed.json');

/** Longer strings are recorded as `<N chars sha256:…>`, to keep the file readable. */
const LONGEST_KEPT_STRING = 2000;

// ---------------------------------------------------------------------------
// Sending

export interface RawResponse {
  status: number;
  /** Lower-case names, in the order received. */
  headers: [string, string][];
  body: Buffer;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

/** One HTTP request with exactly the given headers (fetch would add a Content-Type). */
export function send(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(req.path, baseUrl);
  const headers: Record<string, string> = { ...req.headers };
  if (req.body !== undefined && !req.chunked) headers['Content-Length'] = String(req.body.length);
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: url.pathname + url.search,
        headers,
        // influxd copies error text verbatim into X-Influxdb-Error, control characters included.
        insecureHTTPParser: true,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const pairs: [string, string][] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            pairs.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
          }
          resolve({ status: res.statusCode ?? 0, headers: pairs, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    if (req.body !== undefined && req.chunked) {
      // Two chunks, so the size is unknown until the end.
      const half = Math.floor(req.body.length / 2);
      r.write(req.body.subarray(0, half));
      r.write(req.body.subarray(half));
    } else if (req.body !== undefined) {
      r.write(req.body);
    }
    r.end();
  });
}

/** The query string of a case: keys in the order given, `key=` for ''. */
export function caseQueryString(query: Record<string, string>): string {
  const s = new URLSearchParams(Object.entries(query)).toString();
  return s === '' ? '' : `?${s}`;
}

/** The request a case describes, as it goes on the wire. */
export function caseRequest(k: ConformanceCase, path = '/write'): RawRequest {
  const raw = typeof k.body === 'string' ? Buffer.from(k.body, 'utf8') : k.body;
  const headers: Record<string, string> = { ...k.headers };
  const namesEncoding = Object.keys(headers).some((h) => h.toLowerCase() === 'content-encoding');
  if (k.gzip && !namesEncoding) headers['Content-Encoding'] = 'gzip';
  return {
    method: 'POST',
    path: path + caseQueryString(k.query),
    headers,
    body: k.gzip ? gzipSync(raw) : raw,
  };
}

// ---------------------------------------------------------------------------
// Recording answers

const VOLATILE_HEADERS = new Set(['date', 'request-id', 'x-request-id']);

export function shortString(s: string): string {
  if (s.length <= LONGEST_KEPT_STRING) return s;
  const digest = createHash('sha256').update(s).digest('hex').slice(0, 16);
  return `<${s.length} chars sha256:${digest} starts ${JSON.stringify(s.slice(0, 40))}>`;
}

/** Header values as sent, except per-request ones, replaced by their shape. */
export function stableHeaders(headers: [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (VOLATILE_HEADERS.has(name)) {
      out[name] = /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)
        ? '<uuid v1>'
        : name === 'date'
          ? '<http-date>'
          : `<varies: e.g. ${value}>`;
    } else if (name === 'allow') {
      // influxd lists the methods in Go map order, which changes from run to run.
      out[name] = value.split(/,\s*/).sort().join(', ');
    } else {
      out[name] = out[name] === undefined ? shortString(value) : `${out[name]}, ${shortString(value)}`;
    }
  }
  return out;
}

export interface RecordedResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as UTF-8 text (Go's JSON: <, > and & escaped as \u003c…). */
  body: string;
  /** The body, when it is not valid UTF-8 (msgpack answers). */
  bodyBase64?: string;
  json?: unknown;
  /** The X-Influxdb-Error header, if any (also in headers). */
  error?: string;
}

export function recordResponse(res: RawResponse): RecordedResponse {
  const text = res.body.toString('utf8');
  const out: RecordedResponse = { status: res.status, headers: stableHeaders(res.headers), body: shortString(text) };
  if (!Buffer.from(text, 'utf8').equals(res.body)) out.bodyBase64 = res.body.toString('base64');
  try {
    if (text.trim() !== '') out.json = shortStrings(JSON.parse(text));
  } catch {
    // not JSON; the body says what it is
  }
  const error = res.headers.find(([n]) => n === 'x-influxdb-error');
  if (error) out.error = shortString(error[1]);
  return out;
}

function shortStrings(v: unknown): unknown {
  if (typeof v === 'string') return shortString(v);
  if (Array.isArray(v)) return v.map(shortStrings);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shortStrings(x)]));
  }
  return v;
}

// ---------------------------------------------------------------------------
// Reading back what was stored

export interface StoredSeries {
  /** The series key as SHOW SERIES prints it. */
  tags: Record<string, string>;
  columns: string[];
  /** time and integer/unsigned values as decimal strings; floats as numbers. */
  values: unknown[][];
}

export interface StoredMeasurement {
  /** [fieldKey, fieldType] from SHOW FIELD KEYS (a key can have several types in different shards). */
  fieldKeys: [string, string][];
  seriesKeys: string[];
  series: StoredSeries[];
}

/** A field value as recorded: integers as exact decimal strings, floats as numbers. */
function storedCell(cell: unknown, types: Set<string> | undefined): unknown {
  if (cell === null || typeof cell === 'boolean') return cell;
  if (typeof cell === 'string') return shortString(cell);
  const onlyFloat = types !== undefined && types.size === 1 && types.has('float');
  if (onlyFloat) return Number(cell);
  // integer or unsigned (or a key with several types in different shards: then ambiguous)
  return String(cell);
}

function firstSeriesValues(result: any): unknown[][] {
  const r = result?.results?.[0];
  if (r?.error) throw new Error(r.error);
  return (r?.series?.[0]?.values ?? []) as unknown[][];
}

/** Every measurement of db: field types, series keys and all rows (SELECT * … GROUP BY *). */
export async function readStored(influxd: Influxd, db: string): Promise<Record<string, StoredMeasurement>> {
  const out: Record<string, StoredMeasurement> = {};
  const names = firstSeriesValues(await influxd.query('SHOW MEASUREMENTS', db)).map((row) => String(row[0]));
  for (const name of names.sort()) {
    const from = quoteIdent(name);
    const fieldKeys = firstSeriesValues(await influxd.query(`SHOW FIELD KEYS FROM ${from}`, db)).map(
      (row) => [String(row[0]), String(row[1])] as [string, string],
    );
    const seriesKeys = firstSeriesValues(await influxd.query(`SHOW SERIES FROM ${from}`, db)).map((row) =>
      shortString(String(row[0])),
    );
    const typesOf = new Map<string, Set<string>>();
    for (const [key, type] of fieldKeys) typesOf.set(key, (typesOf.get(key) ?? new Set()).add(type));
    const result = await influxd.query(`SELECT * FROM ${from} GROUP BY *`, db);
    const r = result?.results?.[0];
    if (r?.error) throw new Error(`SELECT from ${name}: ${r.error}`);
    const series: StoredSeries[] = ((r?.series ?? []) as any[]).map((s) => ({
      tags: Object.fromEntries(
        Object.entries((s.tags ?? {}) as Record<string, string>).map(([k, v]) => [shortString(k), shortString(v)]),
      ),
      columns: (s.columns as string[]).map(shortString),
      values: (s.values as unknown[][]).map((row) =>
        row.map((cell, i) => (i === 0 ? String(cell) : storedCell(cell, typesOf.get(s.columns[i])))),
      ),
    }));
    out[shortString(name)] = { fieldKeys: fieldKeys.map(([k, t]) => [shortString(k), t]), seriesKeys, series };
  }
  return out;
}

// ---------------------------------------------------------------------------
// Receive-time points

const PRECISION_NS: Record<string, bigint> = {
  u: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

export interface ReceiveTimeCheck {
  /** How many stored rows carry a time inside the request window (shown as "<receive-time>"). */
  rows: number;
  /** All of them carry the same time. */
  allEqual: boolean;
  /** Each is a whole multiple of the request precision (influxd's own list: u ms s m h, else ns). */
  truncatedToPrecision: boolean;
}

/** Replace receive times (inside [before − one precision unit, after]) by a marker; say what was seen. */
function maskReceiveTimes(
  stored: Record<string, StoredMeasurement>,
  precision: string | undefined,
  beforeNs: bigint,
  afterNs: bigint,
): ReceiveTimeCheck {
  const unit = PRECISION_NS[precision ?? ''] ?? 1n;
  const seen: bigint[] = [];
  for (const m of Object.values(stored)) {
    for (const s of m.series) {
      for (const row of s.values) {
        const t = BigInt(row[0] as string);
        if (t >= beforeNs - unit && t <= afterNs) {
          seen.push(t);
          row[0] = '<receive-time>';
        }
      }
    }
  }
  return {
    rows: seen.length,
    allEqual: seen.every((t) => t === seen[0]),
    truncatedToPrecision: seen.every((t) => t % unit === 0n),
  };
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

// ---------------------------------------------------------------------------
// The probe

interface CaseObservation {
  name: string;
  request: { query: string; headers: Record<string, string>; bodyBytes: number; gzip: boolean };
  prior?: RecordedResponse;
  response: RecordedResponse;
  stored: Record<string, StoredMeasurement>;
  receiveTime?: ReceiveTimeCheck;
  /** influxd was not running after the request (it was restarted for the next case). */
  crashed?: boolean;
}

async function observeCase(influxd: Influxd, k: ConformanceCase): Promise<CaseObservation> {
  const db = k.query.db;
  if (db !== undefined && db !== '' && k.createDb !== false) await influxd.createDatabase(db);
  let prior: RecordedResponse | undefined;
  if (k.prior !== undefined) {
    const res = await send(influxd.url, {
      method: 'POST',
      path: `/write${caseQueryString({ db: db ?? '', precision: 'ns' })}`,
      body: Buffer.from(k.prior),
    });
    prior = recordResponse(res);
    if (res.status !== 204) throw new Error(`prior write of "${k.name}" failed: ${res.status} ${res.body}`);
  }
  const req = caseRequest(k);
  const before = nowNs();
  const res = await send(influxd.url, req);
  const after = nowNs() + 1_000_000n;
  const observation: CaseObservation = {
    name: k.name,
    request: {
      query: caseQueryString(k.query),
      headers: req.headers ?? {},
      bodyBytes: req.body?.length ?? 0,
      gzip: k.gzip === true,
    },
    ...(prior ? { prior } : {}),
    response: recordResponse(res),
    stored: {},
  };
  if (!influxd.alive()) return { ...observation, crashed: true };
  const stored =
    db !== undefined && db !== '' && k.createDb !== false ? await readStored(influxd, db) : {};
  if (k.receiveTime) observation.receiveTime = maskReceiveTimes(stored, k.query.precision, before, after);
  observation.stored = stored;
  return observation;
}

type Probe = { what: string; request: Omit<RawRequest, 'body'> & { body?: string }; response: RecordedResponse };

async function probe(influxd: Influxd, what: string, req: RawRequest): Promise<Probe> {
  const res = await send(influxd.url, req);
  const shown = req.body === undefined ? undefined : req.body.length > 200 ? `<${req.body.length} bytes>` : req.body.toString('latin1');
  const { body: _body, ...rest } = req;
  return { what, request: { ...rest, ...(shown !== undefined ? { body: shown } : {}) }, response: recordResponse(res) };
}

function lines(count: number, bytesEach: number): string {
  // `m f=1 <ts>\n` padded through the tag value to exactly bytesEach bytes.
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const bare = `m,t= f=1 ${1656169934438253518n + BigInt(i)}\n`;
    out.push(`m,t=${'x'.repeat(bytesEach - bare.length)} f=1 ${1656169934438253518n + BigInt(i)}\n`);
  }
  return out.join('');
}

const form = (q: string) => Buffer.from(new URLSearchParams({ q }).toString());
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

async function generalProbes(): Promise<Probe[]> {
  const influxd = await startInfluxd();
  try {
    return await generalProbesOn(influxd);
  } finally {
    await influxd.stop();
  }
}

async function generalProbesOn(influxd: Influxd): Promise<Probe[]> {
  await influxd.createDatabase('probes');
  const write = (what: string, path: string, body: string, headers: Record<string, string> = {}) =>
    probe(influxd, what, { method: 'POST', path, headers, body: Buffer.from(body) });
  return [
    await write('headers of a successful write (204)', '/write?db=probes', 'm f=1 1656169934438253518\n'),
    await write('headers of a parse error (400)', '/write?db=probes', 'm\n'),
    await write('headers of a missing database (404)', '/write?db=nosuchdb', 'm f=1 1656169934438253518\n'),
    await probe(influxd, 'GET /ping', { method: 'GET', path: '/ping' }),
    await probe(influxd, 'HEAD /ping', { method: 'HEAD', path: '/ping' }),
    await probe(influxd, 'GET /ping?verbose=true', { method: 'GET', path: '/ping?verbose=true' }),
    await probe(influxd, 'POST /ping', { method: 'POST', path: '/ping' }),
    await probe(influxd, 'GET /health', { method: 'GET', path: '/health' }),
    await probe(influxd, 'GET /ready', { method: 'GET', path: '/ready' }),
    await probe(influxd, 'GET /query CREATE DATABASE', {
      method: 'GET',
      path: `/query?${new URLSearchParams({ q: 'CREATE DATABASE "probe_get"' })}`,
    }),
    await probe(influxd, 'POST /query CREATE DATABASE (form body)', {
      method: 'POST',
      path: '/query',
      headers: FORM,
      body: form('CREATE DATABASE "probe_post"'),
    }),
    await probe(influxd, 'POST /query CREATE DATABASE (q in the URL)', {
      method: 'POST',
      path: `/query?${new URLSearchParams({ q: 'CREATE DATABASE "probe_post_url"' })}`,
    }),
    await probe(influxd, 'POST /query CREATE DATABASE that exists already', {
      method: 'POST',
      path: '/query',
      headers: FORM,
      body: form('CREATE DATABASE "probe_post"'),
    }),
    await probe(influxd, 'POST /query CREATE DATABASE, Accept msgpack', {
      method: 'POST',
      path: '/query',
      headers: { ...FORM, Accept: 'application/x-msgpack' },
      body: form('CREATE DATABASE "probe_msgpack"'),
    }),
    await probe(influxd, 'GET /query SHOW DATABASES', {
      method: 'GET',
      path: `/query?${new URLSearchParams({ q: 'SHOW DATABASES' })}`,
    }),
    await probe(influxd, 'POST /query SHOW DATABASES', {
      method: 'POST',
      path: '/query',
      headers: FORM,
      body: form('SHOW DATABASES'),
    }),
    await probe(influxd, 'GET /query without q', { method: 'GET', path: '/query' }),
    await probe(influxd, 'GET /query with a syntax error', {
      method: 'GET',
      path: `/query?${new URLSearchParams({ q: 'CREATE DATABSE x' })}`,
    }),
    await probe(influxd, 'GET /query DROP DATABASE (not a read)', {
      method: 'GET',
      path: `/query?${new URLSearchParams({ q: 'DROP DATABASE "probe_get"' })}`,
    }),
    await probe(influxd, 'GET /write', { method: 'GET', path: '/write?db=probes' }),
    await probe(influxd, 'PUT /write', { method: 'PUT', path: '/write?db=probes', body: Buffer.from('m f=1 1\n') }),
    await write('POST /api/v2/write', '/api/v2/write?org=o&bucket=probes&precision=ns', 'm f=1 1656169934438253518\n', {
      Authorization: 'Token t',
    }),
    await write('POST /api/v2/write without parameters', '/api/v2/write', 'm f=1 1656169934438253518\n'),
    await write('POST /write/ (trailing slash)', '/write/?db=probes', 'm f=1 1656169934438253518\n'),
    await probe(influxd, 'POST /write, chunked transfer encoding', {
      method: 'POST',
      path: '/write?db=probes',
      body: Buffer.from('m f=3 1656169934438253519\nm f=4 1656169934438253520\n'),
      chunked: true,
    }),
  ];
}

async function bodySizeProbes(): Promise<{ maxBodySize: number; probes: Probe[] }> {
  const maxBodySize = 1000;
  const influxd = await startInfluxd({ maxBodySize });
  try {
    await influxd.createDatabase('probes');
    const post = (what: string, body: Buffer, headers: Record<string, string> = {}, chunked = false) =>
      probe(influxd, what, { method: 'POST', path: '/write?db=probes', headers, body, chunked });
    const exact = Buffer.from(lines(10, 100));
    const over = Buffer.from(lines(10, 100) + '\n');
    const bigText = Buffer.from(lines(50, 100)); // 5000 bytes, compresses far below 1000
    return {
      maxBodySize,
      probes: [
        await post(`body of exactly max-body-size (${exact.length} bytes)`, exact),
        await post(`body one byte over (${over.length} bytes)`, over),
        await post('body over the limit, chunked (no Content-Length)', Buffer.from(lines(20, 100)), {}, true),
        await post(
          `gzip body: ${gzipSync(bigText).length} bytes compressed, ${bigText.length} decompressed`,
          gzipSync(bigText),
          { 'Content-Encoding': 'gzip' },
        ),
        await post('body 10x over the limit', Buffer.from(lines(100, 100))),
      ],
    };
  } finally {
    await influxd.stop();
  }
}

/** Points with 99–101 tags: the line protocol parser is known to index past a 100-slot buffer. */
async function manyTagProbes(): Promise<Probe[]> {
  const influxd = await startInfluxd();
  const out: Probe[] = [];
  try {
    await influxd.createDatabase('probes');
    for (const count of [99, 100, 101, 150, 199, 200, 201, 300]) {
      const tags = Array.from({ length: count }, (_, i) => `t${String(i).padStart(3, '0')}=x`).join(',');
      const body = Buffer.from(`m${count},${tags} f=1 1656169934438253518\n`);
      let p: Probe;
      try {
        p = await probe(influxd, `a point with ${count} tags (sorted)`, { method: 'POST', path: '/write?db=probes', body });
      } catch (err) {
        p = {
          what: `a point with ${count} tags (sorted)`,
          request: { method: 'POST', path: '/write?db=probes', body: `<${body.length} bytes>` },
          response: { status: 0, headers: {}, body: `request failed: ${(err as Error).message}` },
        };
      }
      const stored = influxd.alive() ? firstSeriesValues(await influxd.query(`SELECT count(f) FROM m${count}`, 'probes')) : [];
      out.push({ ...p, what: `${p.what}; influxd still running: ${influxd.alive()}; rows stored: ${JSON.stringify(stored.map((r) => r[1]))}` });
      if (!influxd.alive()) break;
    }
    // The unsorted path of the parser indexes the same buffer differently.
    const reversed = Array.from({ length: 100 }, (_, i) => `t${String(99 - i).padStart(3, '0')}=x`).join(',');
    const p = await probe(influxd, 'a point with 100 tags (unsorted)', {
      method: 'POST',
      path: '/write?db=probes',
      body: Buffer.from(`m100r,${reversed} f=1 1656169934438253518\n`),
    }).catch(
      (err: Error): Probe => ({
        what: 'a point with 100 tags (unsorted)',
        request: { method: 'POST', path: '/write?db=probes' },
        response: { status: 0, headers: {}, body: `request failed: ${err.message}` },
      }),
    );
    out.push({ ...p, what: `${p.what}; influxd still running: ${influxd.alive()}` });
  } finally {
    await influxd.stop();
  }
  return out;
}

// ---------------------------------------------------------------------------
// Output: sorted keys, two-space indent, arrays of scalars on one line.

export function stableJson(value: unknown, indent = ''): string {
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) return `[${value.map((v) => stableJson(v)).join(', ')}]`;
    return `[\n${value.map((v) => inner + stableJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    if (keys.length === 0) return '{}';
    return `{\n${keys
      .map((k) => `${inner}${JSON.stringify(k)}: ${stableJson((value as Record<string, unknown>)[k], inner)}`)
      .join(',\n')}\n${indent}}`;
  }
  if (Object.is(value, -0)) return '-0';
  return JSON.stringify(value);
}

async function main(): Promise<void> {
  let influxd = await startInfluxd();
  const version = execFileSync('influxd', ['version'], { encoding: 'utf8' }).trim();
  const observations: CaseObservation[] = [];
  try {
    for (const k of cases) {
      const o = await observeCase(influxd, k);
      observations.push(o);
      if (o.crashed) {
        process.stderr.write(`influxd died on "${k.name}":\n${influxd.logs()}\n`);
        await influxd.stop();
        influxd = await startInfluxd();
      }
    }
    process.stderr.write(`${observations.length} cases observed\n`);
    const probes = await generalProbes();
    const bodySize = await bodySizeProbes();
    const manyTags = await manyTagProbes();
    const output = {
      influxd: version,
      generatedBy: 'npx tsx test/conformance/probe-influxd.ts',
      notes: [
        'All cases ran one after another against one fresh influxd (default config except loopback ports, quiet logs, no monitor store), each in its own database. Each probe group ran on a fresh influxd of its own.',
        'stored.*.series[].values: time and integer/unsigned field values are decimal strings (exact int64/uint64); floats are JSON numbers.',
        `Strings longer than ${LONGEST_KEPT_STRING} characters are recorded as "<N chars sha256:first 16 hex starts ...>" (shortString in probe-influxd.ts).`,
        'Per-request header values (Date, Request-Id, X-Request-Id) are recorded by their shape.',
        'receiveTime: rows whose time lies inside the request window carry "<receive-time>"; the check says whether they agree and are truncated to the precision.',
      ],
      cases: Object.fromEntries(observations.map((o) => [o.name, o])),
      probes: {
        general: probes,
        bodySize,
        manyTags,
      },
    };
    writeFileSync(OUTPUT, stableJson(output) + '\n');
    process.stderr.write(`wrote ${OUTPUT}\n`);
  } finally {
    await influxd.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
