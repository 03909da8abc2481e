// Query strings read as influxd reads them (Go's url.ParseQuery): pairs split on "&", "+" is a
// space, and a pair holding ";" or a bad percent escape is dropped (Go refuses ";" as a separator
// since 1.17). So `?db=telegraf;precision=s` has no db (influxd: 400 database is required) instead
// of writing to a database named "telegraf;precision=s" at the wrong precision.

/** Set (not enumerable) on a parsed query that dropped a pair: influxd's routes ignore it, the relay's own API refuses it. */
export const DROPPED_PAIRS: unique symbol = Symbol('dropped query pairs');

export function parseQueryLikeGo(query: string): Record<string, string | string[]> {
  const values: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  const drop = () => Object.defineProperty(values, DROPPED_PAIRS, { value: true });
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    if (pair.includes(';')) {
      drop();
      continue;
    }
    const equals = pair.indexOf('=');
    const key = unescapeQuery(equals < 0 ? pair : pair.slice(0, equals));
    const value = unescapeQuery(equals < 0 ? '' : pair.slice(equals + 1));
    if (key === undefined || value === undefined) {
      drop();
      continue;
    }
    const before = values[key];
    values[key] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
  }
  return values;
}

/** undefined for a bad escape ("%zz", a lone "%", bytes that are no UTF-8). */
function unescapeQuery(text: string): string | undefined {
  if (!text.includes('%') && !text.includes('+')) return text;
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
