// influxd refuses a write in which one field of one measurement arrives with
// two types. We keep the first type seen in the request and refuse the lines
// that disagree, with influxd's own words.
import type { FieldType, ParsedPoint } from '../line-protocol/point.js';

export interface FieldTypeConflict {
  readonly lineNumber: number;
  readonly message: string;
}

export class RequestFieldTypes {
  readonly #seen = new Map<string, FieldType>();

  /** Records the point's field types; returns the first conflict with an earlier line, if any. */
  check(point: ParsedPoint): FieldTypeConflict | undefined {
    for (const [key, field] of point.fields) {
      const id = `${point.measurement}\u0000${key}`;
      const existing = this.#seen.get(id);
      if (existing === undefined) continue;
      if (existing !== field.type) {
        return {
          lineNumber: point.lineNumber,
          message: `field type conflict: input field "${key}" on measurement "${point.measurement}" is type ${field.type}, already exists as type ${existing}`,
        };
      }
    }
    for (const [key, field] of point.fields) this.#seen.set(`${point.measurement}\u0000${key}`, field.type);
    return undefined;
  }
}
