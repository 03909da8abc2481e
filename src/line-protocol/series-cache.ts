// Series keys (a line's measurement and tags, as written) that the parser decoded
// before, with what it decoded. Writers repeat a fleet's series, so a key seen before
// needs no scan and no new strings, and validation can remember its verdict on the
// tags (ParsedPoint.series). Only keys without a backslash are kept: with nothing to
// unescape, the text alone decides the decoding.
//
// A stream of series that never come back gains nothing, and each lookup hashes the
// key: after a window of lookups that almost never hit, the cache is left alone for a
// while, then tried again.

export interface CachedSeries {
  readonly measurement: string;
  readonly tags: ReadonlyMap<string, string>;
}

/** What a thread may hold: at most ENTRIES keys of at most KEY_MAX_CHARS characters. */
export const SERIES_CACHE_ENTRIES = 4096;
export const SERIES_KEY_MAX_CHARS = 256;
/** One miss in this many is remembered: series never seen twice cost few copies, one that comes back is soon cached. */
export const SERIES_ADMIT_EVERY = 8;
/** Lookups per window; a window with fewer hits than 1 in MIN_HIT_SHARE stops lookups for SKIPPED_LINES lines. */
export const SERIES_LOOKUP_WINDOW = 4096;
const MIN_HIT_SHARE = 16;
export const SERIES_SKIPPED_LINES = 16 * SERIES_LOOKUP_WINDOW;

export class SeriesCache {
  readonly #entries = new Map<string, CachedSeries>();
  #misses = 0;
  #lookups = 0;
  #hits = 0;
  #skipping = 0;

  /** Whether to look the next key up at all (false while a run of misses has paused the cache). */
  worthLookingUp(): boolean {
    if (this.#skipping === 0) return true;
    this.#skipping--;
    return false;
  }

  get(keyText: string): CachedSeries | undefined {
    const series = this.#entries.get(keyText);
    if (series !== undefined) this.#hits++;
    if (++this.#lookups === SERIES_LOOKUP_WINDOW) {
      if (this.#hits * MIN_HIT_SHARE < SERIES_LOOKUP_WINDOW) this.#skipping = SERIES_SKIPPED_LINES;
      this.#lookups = 0;
      this.#hits = 0;
    }
    return series;
  }

  /** Counts a miss; true when this one is to be remembered. */
  admitsMiss(): boolean {
    return ++this.#misses % SERIES_ADMIT_EVERY === 0;
  }

  /** `keyText` and the series' strings must not be slices of a request body, which they would keep alive. */
  add(keyText: string, series: CachedSeries): void {
    // Emptied when full rather than evicted one by one: cheaper, and a fleet's series fill it again at once.
    if (this.#entries.size >= SERIES_CACHE_ENTRIES) this.#entries.clear();
    this.#entries.set(keyText, series);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Forgets every key and every count, as at the start. */
  clear(): void {
    this.#entries.clear();
    this.#misses = 0;
    this.#lookups = 0;
    this.#hits = 0;
    this.#skipping = 0;
  }
}
