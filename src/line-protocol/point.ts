// The shapes the parser hands to validation and normalisation. Only what those
// need is decoded; the line's own bytes travel on unchanged (see `head`).

export type FieldValue =
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'integer'; readonly value: bigint }
  | { readonly type: 'unsigned'; readonly value: bigint }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean };

export type FieldType = FieldValue['type'];

export interface ParsedPoint {
  /** 1-based line number inside the request body. */
  readonly lineNumber: number;
  /** Unescaped measurement name. */
  readonly measurement: string;
  /** Unescaped tag keys and values, in the order written. */
  readonly tags: ReadonlyMap<string, string>;
  /**
   * The same object for every point of a series key (measurement and tags as written) that the parser
   * remembers (src/line-protocol/series-cache.ts), else undefined: a key for what depends on them alone.
   */
  readonly series?: object;
  /** Unescaped field keys with typed values, in the order written (a repeated key: last wins, as influxd). */
  readonly fields: ReadonlyMap<string, FieldValue>;
  /** The timestamp as written, in the request's precision units; undefined when the line has none. */
  readonly timestamp: bigint | undefined;
  /** Where the line starts in the body: the index of its first character after leading blanks. */
  readonly offset: number;
  /** The line exactly as received, from the measurement to the end of the field set (no timestamp, no trailing blanks). */
  readonly head: string;
  /**
   * The line as received, timestamp included, when it is already `${head} ${timestamp}`
   * (one space, the digits String(timestamp) prints): in ns precision, the line to store as is.
   * Undefined otherwise, and when the line has no timestamp.
   */
  readonly nsLine?: string;
}

export interface ParseError {
  readonly lineNumber: number;
  /** The offending line as received (without its line terminator). */
  readonly line: string;
  /** InfluxDB's own wording where it has one, e.g. "missing fields". */
  readonly reason: string;
}

export interface ParseResult {
  readonly points: ParsedPoint[];
  readonly errors: ParseError[];
}
