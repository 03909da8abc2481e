// influxd reads a query parameter given twice by its first value (Go's
// url.Values.Get), and so does certrelay: `?db=a&db=b` writes to a. The query
// parser gives an array for a repeated key; without this it would reach the
// store, where one such request used to fail the commit it shared with others.

/** A query parameter as the parser gives it: absent, once, or repeated. */
export type QueryValue = string | string[] | undefined;

export function firstValue(value: QueryValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
