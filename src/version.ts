// What the relay says it is. Clients probe X-Influxdb-Version at start-up (the
// python client fails without it); the 1.x version is the one the
// conformance suite verifies against, suffixed so an operator can tell.
import { existsSync, readFileSync } from 'node:fs';

// src/version.ts runs from src/ under tsx and from dist/src/ once built.
function packageVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    const url = new URL(relative, import.meta.url);
    if (existsSync(url)) {
      const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'certrelay' && pkg.version !== undefined) return pkg.version;
    }
  }
  return '0.0.0';
}

export const RELAY_VERSION: string = packageVersion();
export const INFLUXDB_COMPATIBLE_VERSION = `1.6.7-certrelay-${RELAY_VERSION}`;
export const INFLUXDB_BUILD = 'OSS';
