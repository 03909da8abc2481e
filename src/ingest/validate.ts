// The certbot_renewal schema (DESIGN.md), as a pure function of one point.
// Other measurements pass through: the relay validates only what its renewal
// monitoring depends on.
import { domainToASCII } from 'node:url';
import type { FieldValue, ParsedPoint } from '../line-protocol/point.js';
import { stringOfItsOwn } from '../line-protocol/string-of-its-own.js';

export interface SchemaRules {
  readonly certbotMeasurement: string;
  readonly maxFutureNs: bigint;
}

export interface SchemaRejection {
  readonly lineNumber: number;
  readonly rule: string;
  readonly message: string;
}

const NS_PER_SECOND = 1_000_000_000n;
/**
 * Certificate dates are Unix seconds, from 1970 to the end of year 9999 (what a
 * date can print). A date in milliseconds or nanoseconds lands far above it.
 */
export const MAX_CERTIFICATE_SECONDS = 253_402_300_799;

export function isCertificateSeconds(value: number): boolean {
  return value >= 0 && value <= MAX_CERTIFICATE_SECONDS;
}
/**
 * 2000-01-01T00:00:00Z in ns. No certbot renewal is older (Let's Encrypt began in 2015); a timestamp
 * below it is one in seconds, ms or µs sent without its precision, read as ns: a renewal in 1970,
 * which would raise an overdue alert at once.
 */
export const EARLIEST_RENEWAL_NS = 946_684_800n * NS_PER_SECOND;
const MAX_DNS_NAME_LENGTH = 253;
const ASCII_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

// Controls (C0, DEL, C1), format characters (zero-width, soft hyphen, bidi overrides, BOM) and line or
// paragraph separators: a tag can carry them (only ",", "=" and " " need escaping), and on the page, in
// alert labels and in e-mail they hide or forge text ("a\u202Eevil" shows as "alive").
const INVISIBLE_CHARACTER = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
/** renewed_count counts certificates renewed in one run: far more than any host renews at once. */
const MAX_RENEWED_COUNT = 1_000_000;
/** A host tag is a machine's name: as long as a DNS name may be, with room to spare. */
const MAX_HOST_LENGTH = 255;

/** Returns why the point breaks the schema, or undefined when it is acceptable. `timestampNs` is after normalisation. */
export function checkSchema(point: ParsedPoint, timestampNs: bigint, nowNs: bigint, rules: SchemaRules): SchemaRejection | undefined {
  if (point.measurement !== rules.certbotMeasurement) return undefined;
  // Runs for every certbot line: each tag and field is looked up once, and nothing is allocated unless the line is refused.
  if (point.series === undefined || !seriesWithValidTags.has(point.series)) {
    const tagRejection = checkTags(point, rules);
    if (tagRejection !== undefined) return tagRejection;
    if (point.series !== undefined) seriesWithValidTags.add(point.series);
  }
  return checkFieldsAndTime(point, timestampNs, nowNs, rules);
}

/** Series (see ParsedPoint.series) whose domain and host tags passed checkTags. */
const seriesWithValidTags = new WeakSet<object>();

function checkTags(point: ParsedPoint, rules: SchemaRules): SchemaRejection | undefined {
  const domain = point.tags.get('domain');
  if (domain === undefined || domain === '') return reject(point, rules, 'domain-required', 'needs a non-empty tag "domain"');
  if (!isCertificateDomain(domain)) {
    return reject(point, rules, 'domain-format', `tag "domain" must be a DNS name, a wildcard name or "all", got ${JSON.stringify(domain)}`);
  }
  const host = point.tags.get('host');
  if (host === undefined || host === '') return reject(point, rules, 'host-required', 'needs a non-empty tag "host"');
  // The host name goes into notification subjects and bodies, metric labels and the page: a CR there could forge an
  // e-mail line, and 2,000 hosts of 65 KB made /metrics too large to build.
  if (host.length > MAX_HOST_LENGTH) {
    return reject(point, rules, 'host-format', `tag "host" must be at most ${MAX_HOST_LENGTH} characters, got ${host.length}`);
  }
  if (INVISIBLE_CHARACTER.test(host)) {
    return reject(point, rules, 'host-format', `tag "host" must not contain control or invisible characters, got ${JSON.stringify(host)}`);
  }
  return undefined;
}

function checkFieldsAndTime(point: ParsedPoint, timestampNs: bigint, nowNs: bigint, rules: SchemaRules): SchemaRejection | undefined {
  const count = point.fields.get('renewed_count');
  if (count === undefined) return reject(point, rules, 'renewed-count-required', 'needs the field "renewed_count"');
  if (count.type !== 'float' && count.type !== 'integer' && count.type !== 'unsigned') {
    return reject(point, rules, 'renewed-count-numeric', `field "renewed_count" must be numeric, got ${count.type} ${JSON.stringify(String(count.value))}`);
  }
  if (!(Number(count.value) >= 1)) {
    return reject(point, rules, 'renewed-count-min', `field "renewed_count" must be >= 1, got ${String(count.value)}`);
  }
  // A count of certificates (the hook writes it as a float, "2"): 1.5 or 1e308 would show as such, or as
  // Infinity once summed, on the page's daily chart.
  if (!Number.isInteger(Number(count.value)) || Number(count.value) > MAX_RENEWED_COUNT) {
    return reject(point, rules, 'renewed-count-whole', `field "renewed_count" must be a whole number up to ${MAX_RENEWED_COUNT}, got ${String(count.value)}`);
  }

  const notAfter = point.fields.get('not_after');
  const notBefore = point.fields.get('not_before');
  const dateRejection = checkDateType(point, rules, 'not_after', notAfter) ?? checkDateType(point, rules, 'not_before', notBefore);
  if (dateRejection !== undefined) return dateRejection;
  if (notAfter !== undefined && notBefore !== undefined && notAfter.value <= notBefore.value) {
    return reject(point, rules, 'certificate-dates-order', `field "not_after" (${String(notAfter.value)}) must be later than "not_before" (${String(notBefore.value)})`);
  }

  if (timestampNs - nowNs > rules.maxFutureNs) {
    const seconds = (timestampNs - nowNs) / NS_PER_SECOND;
    return reject(point, rules, 'timestamp-future', `timestamp ${timestampNs} is ${seconds} s in the future (at most ${rules.maxFutureNs / NS_PER_SECOND} s allowed): check the host's clock and the precision`);
  }
  if (timestampNs < EARLIEST_RENEWAL_NS) {
    return reject(
      point,
      rules,
      'timestamp-too-old',
      `timestamp ${timestampNs} is before 2000-01-01: check the precision (a time in s, ms or us needs precision= in the URL, else it is read as ns)`,
    );
  }
  return undefined;
}

function checkDateType(point: ParsedPoint, rules: SchemaRules, key: 'not_after' | 'not_before', date: FieldValue | undefined): SchemaRejection | undefined {
  if (date === undefined) return undefined;
  const rule = key.replace('_', '-');
  if (date.type !== 'integer' && date.type !== 'unsigned') {
    return reject(point, rules, `${rule}-integer`, `field "${key}" must be an integer of Unix seconds (e.g. ${key}=1700000000i), got ${date.type} ${JSON.stringify(String(date.value))}`);
  }
  const seconds = Number(date.value);
  if (isCertificateSeconds(seconds)) return undefined;
  const hint = seconds > MAX_CERTIFICATE_SECONDS ? ' (milliseconds or nanoseconds?)' : '';
  return reject(point, rules, `${rule}-range`, `field "${key}" must be Unix seconds from 0 to ${MAX_CERTIFICATE_SECONDS} (9999-12-31), got ${String(date.value)}${hint}`);
}

function reject(point: ParsedPoint, rules: SchemaRules, rule: string, detail: string): SchemaRejection {
  return { lineNumber: point.lineNumber, rule, message: `line ${point.lineNumber}: ${rules.certbotMeasurement} ${detail}` };
}

/**
 * influxd refuses a tag named "time" and a lone field named "time", and
 * silently drops a "time" field written next to others, so what it stores
 * would differ from what it was sent. The relay forwards lines byte for byte
 * and can't strip the key, so it refuses the line and says why.
 */
export function checkReservedKeys(point: ParsedPoint): SchemaRejection | undefined {
  // influxd's own words (tsdb: validateTagKeys / ErrFieldNameTime).
  if (point.tags.has('time')) {
    return { lineNumber: point.lineNumber, rule: 'reserved-key-time', message: `invalid tag key: input tag "time" on measurement "${point.measurement}" is invalid` };
  }
  if (point.fields.has('time')) {
    return { lineNumber: point.lineNumber, rule: 'reserved-key-time', message: `invalid field name: input field "time" on measurement "${point.measurement}" is invalid` };
  }
  return undefined;
}

/** A DNS name in ASCII or Unicode form, optionally with a leading "*." wildcard label, or the per-host total "all". */
export function isCertificateDomain(domain: string): boolean {
  let known = domainVerdicts.get(domain);
  if (known === undefined) {
    known = checkCertificateDomain(domain);
    // A host reports the same few domains again and again; the bound keeps hostile input from growing the cache.
    if (domainVerdicts.size >= DOMAIN_CACHE_ENTRIES) domainVerdicts.clear();
    // A copy: the domain is a slice of its request body, which the map would keep alive.
    domainVerdicts.set(stringOfItsOwn(domain), known);
  }
  return known;
}

const DOMAIN_CACHE_ENTRIES = 10_000;
const domainVerdicts = new Map<string, boolean>();
// Plain ASCII names (no IDN "xn--" label) need no IDNA mapping: most certbot domains.
const PLAIN_ASCII_NAME = /^(?!.*(?:^|\.)xn--)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)*(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

function checkCertificateDomain(domain: string): boolean {
  if (domain === 'all') return true;
  // IDNA mapping drops zero-width characters and soft hyphens, so "exa\u200Bmple.com" would pass as a
  // second certificate that looks exactly like example.com.
  if (INVISIBLE_CHARACTER.test(domain)) return false;
  const name = domain.startsWith('*.') ? domain.slice(2) : domain;
  if (name.length === 0 || name.endsWith('.') || name.length > MAX_DNS_NAME_LENGTH) return false;
  let ascii = name;
  if (!PLAIN_ASCII_NAME.test(name)) {
    ascii = domainToASCII(name);
    if (ascii === '' || ascii.length > MAX_DNS_NAME_LENGTH) return false;
  }
  // domainToASCII lower-cases and maps; it also accepts IPv4 literals, which are not certificate DNS names here.
  const labels = ascii.split('.');
  if (/^\d+$/.test(labels[labels.length - 1])) return false;
  return labels.every((label) => ASCII_LABEL.test(label));
}
