// `certrelay renewals`: the certificate table of GET /api/v1/renewals, read
// from the store, in a terminal or as the same JSON document. Read-only.
import type { Config } from '../config/defaults.js';
import type { Store } from '../log/store.js';
import { renewalPolicy } from '../renewals/monitoring.js';
import { RenewalStore } from '../renewals/renewal-store.js';
import { renewalOverview, type RenewalOverview } from '../renewals/overview.js';
import { formatTime } from './duration.js';
import { writeJson, type CliIo } from './output.js';
import { formatTable } from './table.js';

export function formatRenewals(overview: RenewalOverview, storeFile: string): string {
  const rows = overview.certificates;
  if (rows.length === 0) return `no certificates: none has reported to this relay yet (store ${storeFile})`;
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
  const table = formatTable(
    [
      { header: 'DOMAIN' },
      { header: 'HOST' },
      { header: 'LAST RENEWAL' },
      { header: 'AGE (DAYS)', align: 'right' },
      { header: 'EXPECTED RENEWAL' },
      { header: 'OVERDUE FROM' },
      { header: 'STATE' },
    ],
    rows.map((row) => [
      row.domain,
      row.host,
      row.last_renewal === null ? 'never reported' : formatTime(ms(row.last_renewal)),
      row.age_days === null ? '-' : row.age_days.toFixed(1),
      formatTime(ms(row.expected_renewal)),
      formatTime(ms(row.overdue_at)),
      row.state === 'snoozed' && row.snoozed_until !== null ? `snoozed until ${formatTime(ms(row.snoozed_until))}` : row.state,
    ]),
  );
  const overdue = rows.filter((row) => row.state === 'overdue').length;
  if (overdue === 0) return table;
  return (
    `${table}\n\n${overdue} overdue: certbot has not renewed ${overdue === 1 ? 'it' : 'them'} in time. ` +
    "Check certbot on the host (certbot renew --dry-run, its timer and logs); if a certificate is gone for good, retire it " +
    '(POST /api/v1/renewals/retire).'
  );
}

export function runRenewals(io: CliIo, store: Store, config: Config, json: boolean): number {
  // The relay's own policy, from the same configuration, so both show the same states.
  const renewals = new RenewalStore(store, renewalPolicy(config.renewals), {
    certbotMeasurement: config.validation.certbotMeasurement,
    maxCertificates: config.renewals.maxCertificates,
  });
  // With everything in the log applied, but written by nobody: the running relay is the state's only writer.
  const overview = renewals.view((r) => renewalOverview(r, io.nowMs()));
  if (json) writeJson(io, overview);
  else io.stdout.write(`${formatRenewals(overview, store.file)}\n`);
  return 0;
}
