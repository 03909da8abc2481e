// The parser's memory of series keys: bounded, and paused while it does not pay.
import t from 'tap';
import { parseLines, seriesCache } from '../../src/line-protocol/parse.js';
import {
  SERIES_ADMIT_EVERY,
  SERIES_CACHE_ENTRIES,
  SERIES_KEY_MAX_CHARS,
  SERIES_LOOKUP_WINDOW,
  SERIES_SKIPPED_LINES,
  SeriesCache,
} from '../../src/line-protocol/series-cache.js';

/** Parses `text` until its first point comes from a remembered key; how many parses that took. */
function parsesUntilRemembered(text: string, limit: number): number {
  for (let k = 1; k <= limit; k++) if (parseLines(text).points[0]?.series !== undefined) return k;
  return Infinity;
}

t.test('a repeated key is decoded from memory: the same measurement and tags, one series object', async (t) => {
  seriesCache.clear();
  const line = 'certbot_renewal,domain=example.com,host=optimus renewed_count=1 1656169934438253518';
  const parses = parsesUntilRemembered(line, SERIES_ADMIT_EVERY + 1);
  t.ok(parses <= SERIES_ADMIT_EVERY + 1, `remembered after ${parses} parses`);
  const [a, b] = parseLines(`${line}\n${line.replace('renewed_count=1', 'renewed_count=2')}`).points;
  t.equal(a.series, b.series, 'both points share the series object');
  t.equal(a.tags, b.tags, 'and the decoded tags');
  t.equal(a.measurement, 'certbot_renewal');
  t.same([...a.tags], [['domain', 'example.com'], ['host', 'optimus']]);
  t.equal(b.fields.get('renewed_count')?.value, 2, 'the fields are still each line\'s own');
  t.equal(b.head, 'certbot_renewal,domain=example.com,host=optimus renewed_count=2');
});

t.test('lines with a backslash, and keys longer than the bound, are never remembered', async (t) => {
  seriesCache.clear();
  const escaped = 'm,t=a\\ b f=1';
  t.equal(parsesUntilRemembered(escaped, 40), Infinity, 'an escaped key is scanned every time');
  t.same([...parseLines(escaped).points[0].tags], [['t', 'a b']]);
  const long = `m,t=${'x'.repeat(SERIES_KEY_MAX_CHARS)} f=1`;
  t.equal(parsesUntilRemembered(long, 40), Infinity, 'a long key is scanned every time');
  t.equal(seriesCache.size, 0, 'nothing was stored');
});

t.test('the memory is bounded', async (t) => {
  seriesCache.clear();
  // Every line a new series, in rounds: each round's lookups hit nothing, yet some keys are remembered.
  let largest = 0;
  for (let round = 0; round * 1000 < 4 * SERIES_CACHE_ENTRIES * SERIES_ADMIT_EVERY; round++) {
    parseLines(Array.from({ length: 1000 }, (_, k) => `m,id=${round}-${k} f=1`).join('\n'));
    largest = Math.max(largest, seriesCache.size);
  }
  t.ok(largest > 0 && largest <= SERIES_CACHE_ENTRIES, `at most ${largest} keys held (bound ${SERIES_CACHE_ENTRIES})`);
  seriesCache.clear();
});

t.test('after a window of lookups that almost never hit, lookups pause, then resume', async (t) => {
  const cache = new SeriesCache();
  for (let k = 0; k < SERIES_LOOKUP_WINDOW; k++) {
    t.equal(cache.worthLookingUp(), true);
    cache.get(`unique-${k}`);
  }
  let paused = 0;
  while (!cache.worthLookingUp()) paused++;
  t.equal(paused, SERIES_SKIPPED_LINES, 'no lookups for the paused lines');

  // A window where one lookup in eight hits keeps the cache in use.
  const kept = new SeriesCache();
  kept.add('m,t=a', { measurement: 'm', tags: new Map([['t', 'a']]) });
  for (let k = 0; k < SERIES_LOOKUP_WINDOW; k++) kept.get(k % 8 === 0 ? 'm,t=a' : `unique-${k}`);
  t.equal(kept.worthLookingUp(), true, 'still looked up');
});

t.test('a body of lines without a space (a CSV file sent by mistake) is read in one pass, not once per line', async (t) => {
  seriesCache.clear();
  const lines = 20_000;
  const body = Array.from({ length: lines }, (_, k) => `2026-11-29T03:00:00Z,host${k % 100},example.com,${k % 7}`).join('\n');
  // Counts the characters String.prototype.indexOf reads: the parser finds spaces, newlines, quotes and backslashes with it.
  const indexOf = String.prototype.indexOf;
  let read = 0;
  String.prototype.indexOf = function (this: string, search: string, from?: number): number {
    const at = indexOf.call(this, search, from);
    read += (at < 0 ? this.length : at) - (from ?? 0);
    return at;
  };
  let errors: number;
  try {
    errors = parseLines(body).errors.length;
  } finally {
    String.prototype.indexOf = indexOf;
  }
  t.equal(errors, lines, 'every line is refused');
  // Each search reads on from where the previous one of its kind stopped: a few passes over the body.
  t.ok(read < 8 * body.length, `indexOf read ${read} characters of a ${body.length}-character body`);
});
