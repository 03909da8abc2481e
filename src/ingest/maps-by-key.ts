// Inner maps by an outer key (field types by measurement, certificates by host),
// remembering the last outer key: consecutive lines of a request mostly share it,
// so the outer lookup is skipped for them. Per line on the write path.

export class MapsByKey<V> {
  readonly #maps = new Map<string, Map<string, V>>();
  #lastKey: string | undefined;
  #last: Map<string, V> | undefined;

  /** The inner map of `key`, created empty on first use. */
  of(key: string): Map<string, V> {
    if (key === this.#lastKey && this.#last !== undefined) return this.#last;
    let inner = this.#maps.get(key);
    if (inner === undefined) {
      inner = new Map();
      this.#maps.set(key, inner);
    }
    this.#lastKey = key;
    this.#last = inner;
    return inner;
  }

  /** Every outer key with its inner map, in order of first use. */
  entries(): IterableIterator<[string, Map<string, V>]> {
    return this.#maps.entries();
  }
}
