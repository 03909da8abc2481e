// influxd refuses a write in which one field of one measurement arrives with
// two types. We keep the first type seen in the request and refuse the lines
// that disagree, with influxd's own words.
import type { FieldType, FieldValue, ParsedPoint } from '../line-protocol/point.js';

export interface FieldTypeConflict {
  readonly lineNumber: number;
  readonly message: string;
}

export class RequestFieldTypes {
  readonly #byMeasurement = new Map<string, Map<string, FieldType>>();
  // Consecutive lines are mostly of one measurement: skip the outer lookup for them.
  #lastMeasurement: string | undefined;
  #lastTypes = new Map<string, FieldType>();

  /** Records the point's field types; returns the first conflict with an earlier line, if any. */
  check(point: ParsedPoint): FieldTypeConflict | undefined {
    const types = this.#typesOf(point.measurement);
    let conflict: FieldTypeConflict | undefined;
    let unseen = false;
    point.fields.forEach((field: FieldValue, key: string) => {
      const existing = types.get(key);
      if (existing === undefined) unseen = true;
      else if (existing !== field.type && conflict === undefined) {
        conflict = {
          lineNumber: point.lineNumber,
          message: `field type conflict: input field "${key}" on measurement "${point.measurement}" is type ${field.type}, already exists as type ${existing}`,
        };
      }
    });
    // A refused line teaches nothing: its other fields were not stored.
    if (conflict === undefined && unseen) {
      point.fields.forEach((field: FieldValue, key: string) => {
        if (!types.has(key)) types.set(key, field.type);
      });
    }
    return conflict;
  }

  #typesOf(measurement: string): Map<string, FieldType> {
    if (measurement === this.#lastMeasurement) return this.#lastTypes;
    let types = this.#byMeasurement.get(measurement);
    if (types === undefined) {
      types = new Map();
      this.#byMeasurement.set(measurement, types);
    }
    this.#lastMeasurement = measurement;
    this.#lastTypes = types;
    return types;
  }
}
