// Where a stored batch goes on a target: the log keeps every batch as 1.x
// database + retention policy (a 2.x bucket "db/rp" was split at intake), and
// each target kind names that destination its own way. Pure.
import type { TargetConfig, TargetMapping } from '../config/defaults.js';

export type RoutingConfig = Pick<TargetConfig, 'kind' | 'org' | 'databases' | 'mapping'>;

export interface Destination {
  /** Equal keys: the same request URL, so batches for it may share a request. */
  readonly key: string;
  /** Path and query of the write, relative to the target's URL. */
  readonly path: string;
  /** For logs and dead letters: `db/rp` (1.x) or the bucket (2.x). */
  readonly label: string;
  /** influxdb-v1: the database a CREATE DATABASE would create. */
  readonly database?: string;
}

/** The destination of a batch written to db/rp, or undefined when the target does not take that database. */
export function routeFor(target: RoutingConfig, db: string, rp: string): Destination | undefined {
  if (target.databases.length > 0 && !target.databases.includes(db)) return undefined;
  const rule = findMapping(target.mapping, db, rp);
  if (target.kind === 'influxdb-v2') {
    const bucket = rule?.to ?? (rp === '' ? db : `${db}/${rp}`);
    const query = new URLSearchParams({ org: target.org ?? '', bucket, precision: 'ns' });
    return { key: `bucket:${bucket}`, path: `/api/v2/write?${query}`, label: bucket };
  }
  let toDb = db;
  let toRp = rp;
  if (rule !== undefined) {
    const slash = rule.to.indexOf('/');
    if (slash < 0) toDb = rule.to;
    else [toDb, toRp] = [rule.to.slice(0, slash), rule.to.slice(slash + 1)];
  }
  const query = new URLSearchParams({ db: toDb });
  if (toRp !== '') query.set('rp', toRp);
  query.set('precision', 'ns');
  return { key: `db:${toDb}\u0000${toRp}`, path: `/write?${query}`, label: toRp === '' ? toDb : `${toDb}/${toRp}`, database: toDb };
}

/** "db/rp=to" wins over "db=to"; undefined: the default route. */
export function findMapping(mapping: readonly TargetMapping[], db: string, rp: string): TargetMapping | undefined {
  return mapping.find((m) => m.db === db && m.rp === rp) ?? mapping.find((m) => m.db === db && m.rp === undefined);
}

/** `base` + `path`, keeping a path prefix of the target URL (a reverse proxy). */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}
