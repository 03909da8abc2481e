/** A prepared body's stored lines as text, whether they came as a string or as UTF-8 bytes. */
export function storedText(stored: string | Uint8Array): string {
  return typeof stored === 'string' ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).toString('utf8');
}
