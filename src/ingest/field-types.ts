// influxd refuses a write in which one field of one measurement arrives with
// two types. We keep the first type seen in the request and refuse the lines
// that disagree, with influxd's own words.
import type { FieldType, FieldValue, ParsedPoint } from '../line-protocol/point.js';
import { MapsByKey } from './maps-by-key.js';

export interface FieldTypeConflict {
  readonly lineNumber: number;
  readonly message: string;
}

export class RequestFieldTypes {
  readonly #byMeasurement = new MapsByKey<FieldType>();

  /** Records the point's field types; returns the first conflict with an earlier line, if any. */
  check(point: ParsedPoint): FieldTypeConflict | undefined {
    visit.types = this.#byMeasurement.of(point.measurement);
    visit.conflictKey = undefined;
    visit.unseen = false;
    point.fields.forEach(compareType);
    const { types, conflictKey, conflictType, existingType } = visit;
    visit.types = NO_TYPES; // keeps no request's map alive
    if (conflictKey !== undefined) {
      return {
        lineNumber: point.lineNumber,
        message: `field type conflict: input field "${conflictKey}" on measurement "${point.measurement}" is type ${conflictType}, already exists as type ${existingType}`,
      };
    }
    // A refused line teaches nothing: its other fields were not stored.
    if (visit.unseen) {
      point.fields.forEach((field: FieldValue, key: string) => {
        if (!types.has(key)) types.set(key, field.type);
      });
    }
    return undefined;
  }
}

// The state of one check's walk over a point's fields, in module scope so that the
// callback is one function for every point (a closure per point is garbage per line).
const NO_TYPES = new Map<string, FieldType>();
const visit = {
  types: NO_TYPES,
  unseen: false,
  conflictKey: undefined as string | undefined,
  conflictType: '',
  existingType: '',
};

function compareType(field: FieldValue, key: string): void {
  const existing = visit.types.get(key);
  if (existing === undefined) visit.unseen = true;
  else if (existing !== field.type && visit.conflictKey === undefined) {
    visit.conflictKey = key;
    visit.conflictType = field.type;
    visit.existingType = existing;
  }
}
