import type { StoredLines } from '../../src/log/store.js';

/** A prepared body's stored lines as text, whether they came as a string or as UTF-8 bytes. */
export function storedText(stored: StoredLines): string {
  return typeof stored === 'string' ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).toString('utf8');
}
