// Builds the Config once at start-up: embedded defaults, then the TOML file,
// then CERTRELAY_ variables, each value checked against the catalog in
// schema.ts. Every problem found is reported at once, so an operator fixes the
// file in one pass; the result is frozen.
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { parse as parseToml, TomlError } from 'smol-toml';
import type {
  Config,
  EmailChannelConfig,
  ExpectedCertificate,
  LogLevel,
  SmtpSecurity,
  TargetConfig,
  TargetKind,
  TargetMapping,
  TokenAccess,
  TokenConfig,
  WebhookChannelConfig,
} from './defaults.js';
import { isCertificateDomain } from '../ingest/validate.js';
import { ALL_DOMAINS } from '../renewals/observation.js';
import { DEFAULTS } from './defaults.js';
import { CONFIG_FILE_ENV, EMAIL_ADDRESS, EMAIL_ADDRESS_TEXT, ENV_PREFIX, HOOK_ENV_PREFIX, KEYS, type KeyDef } from './schema.js';

export interface ConfigProblem {
  /**
   * Where the bad value is: a key as written in the file (`server.listen`,
   * `targets[1].url`, 0-based), the environment variable that set it, or ''
   * when the file itself cannot be read or parsed.
   */
  readonly key: string;
  /** One operator-facing line: `config: <file>: <key>: <what was expected>`. */
  readonly message: string;
}

export class ConfigError extends Error {
  /** The key of the first problem (see ConfigProblem.key). */
  readonly key: string;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map((p) => p.message).join('\n'));
    this.name = 'ConfigError';
    this.key = problems[0]?.key ?? '';
    this.problems = problems;
  }
}

export interface LoadOptions {
  /** Path of the TOML file (`--config`); wins over CERTRELAY_CONFIG. */
  readonly file?: string;
  readonly env: Record<string, string | undefined>;
}

export function loadConfig(opts: LoadOptions): Config {
  const problems = new Problems();
  const file = opts.file ?? opts.env[CONFIG_FILE_ENV];
  let root = emptyNode();
  let origin: Origin = { kind: 'default' };
  if (file !== undefined) {
    const via = opts.file === undefined ? ` (from ${CONFIG_FILE_ENV})` : '';
    if (file === '') throw fileError(`config: the configuration file path${via} is empty`);
    origin = { kind: 'file', file };
    root = walk(readToml(file, via), SHAPE, '', origin, problems);
  }
  checkEnvNames(opts.env, problems);
  const config = assemble(root, origin, opts.env, problems);
  problems.throwIfAny();
  return deepFreeze(config as Config);
}

// ---- sources: the file, the environment, the defaults

type Origin = { readonly kind: 'default' } | { readonly kind: 'file'; readonly file: string } | { readonly kind: 'env'; readonly name: string };

class Problems {
  readonly list: ConfigProblem[] = [];

  /** `note` follows the key in the message only, e.g. ` (target "influx-a")`. */
  add(origin: Origin, key: string, text: string, note = ''): void {
    switch (origin.kind) {
      case 'file':
        this.list.push({ key, message: `config: ${origin.file}: ${key}${note}: ${text}` });
        return;
      case 'env':
        this.list.push({ key: origin.name, message: `config: ${origin.name} (${key}${note}): ${text}` });
        return;
      case 'default':
        this.list.push({ key, message: `config: ${key}${note}: ${text}` });
    }
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new ConfigError(this.list);
  }
}

/** The file itself is the problem: nothing else can be checked. */
function fileError(message: string): ConfigError {
  return new ConfigError([{ key: '', message }]);
}

function readToml(file: string, via: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fileError(`config: ${file}${via}: cannot read the configuration file: ${(err as Error).message}`);
  }
  try {
    return parseToml(text.replace(/^\uFEFF/, ''), { integersAsBigInt: true });
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // Only smol-toml's first line: its code excerpt could print a token from a nearby line.
    const reason = err.message.split('\n')[0].replace(/^Invalid TOML document: /, '');
    throw fileError(`config: ${file}:${err.line}:${err.column}: invalid TOML: ${reason}`);
  }
}

/** The catalog as a tree of tables and arrays of tables, for the unknown-key check. */
interface Shape {
  readonly leaves: Map<string, KeyDef>;
  readonly tables: Map<string, Shape>;
  readonly arrays: Map<string, Shape>;
}

/** What the file holds, shaped like the catalog; values are still unchecked. */
interface Node {
  readonly values: Map<string, unknown>;
  readonly tables: Map<string, Node>;
  readonly arrays: Map<string, Node[]>;
}

const SHAPE = buildShape(KEYS);

function buildShape(keys: readonly KeyDef[]): Shape {
  const root: Shape = { leaves: new Map(), tables: new Map(), arrays: new Map() };
  for (const def of keys) {
    const segments = def.key.split('.');
    let shape = root;
    for (const segment of segments.slice(0, -1)) {
      const isArray = segment.endsWith('[]');
      const name = isArray ? segment.slice(0, -2) : segment;
      const children = isArray ? shape.arrays : shape.tables;
      let child = children.get(name);
      if (child === undefined) {
        child = { leaves: new Map(), tables: new Map(), arrays: new Map() };
        children.set(name, child);
      }
      shape = child;
    }
    shape.leaves.set(segments[segments.length - 1], def);
  }
  return root;
}

function emptyNode(): Node {
  return { values: new Map(), tables: new Map(), arrays: new Map() };
}

function walk(table: Record<string, unknown>, shape: Shape, path: string, origin: Origin, problems: Problems, note = ''): Node {
  const node = emptyNode();
  for (const [name, value] of Object.entries(table)) {
    const key = path === '' ? name : `${path}.${name}`;
    if (shape.leaves.has(name)) {
      node.values.set(name, value);
    } else if (shape.tables.has(name)) {
      if (isTable(value)) node.tables.set(name, walk(value, shape.tables.get(name)!, key, origin, problems));
      else problems.add(origin, key, `expected a table ([${key}]), got ${describe(value)}`);
    } else if (shape.arrays.has(name)) {
      if (Array.isArray(value) && value.every(isTable)) {
        node.arrays.set(
          name,
          value.map((item, i) => walk(item, shape.arrays.get(name)!, `${key}[${i}]`, origin, problems, itemNote(key, item))),
        );
      } else {
        problems.add(origin, key, `expected an array of tables ([[${key}]]), got ${describe(value)}`);
      }
    } else {
      problems.add(origin, key, unknownKey(name, shape, path), note);
    }
  }
  return node;
}

/** A target is named in its own messages, as the value checks do: ` (target "influx-a")`. */
function itemNote(arrayKey: string, item: Record<string, unknown>): string {
  return arrayKey === 'targets' && typeof item.name === 'string' ? ` (target ${JSON.stringify(item.name)})` : '';
}

function unknownKey(name: string, shape: Shape, path: string): string {
  const known = [...shape.leaves.keys(), ...shape.tables.keys(), ...shape.arrays.keys()];
  let hint = nearest(name, known).map((k) => (path === '' ? k : `${path}.${k}`));
  // A key put in the wrong table (`listen` above [server]) is found by its exact name elsewhere.
  if (hint.length === 0) hint = KEYS.filter((d) => d.key.endsWith(`.${name}`)).map((d) => tomlPath(d.key));
  const where = path === '' ? 'at the top level' : `in ${tomlHeader(path)}`;
  const didYouMean = hint.length > 0 ? ` (did you mean ${hint.map((k) => `"${k}"`).join(' or ')}?)` : '';
  return `unknown key${didYouMean}; known keys ${where}: ${known.join(', ')}`;
}

/** `targets[1]` → `[[targets]]`, `server` → `[server]`. */
function tomlHeader(path: string): string {
  return /\[\d+\]$/.test(path) ? `[[${path.replace(/\[\d+\]$/, '')}]]` : `[${path}]`;
}

/** A catalog key as a reader spells it: `targets[].url` → `targets.url`. */
function tomlPath(key: string): string {
  return key.replace(/\[\]/g, '');
}

function checkEnvNames(env: Record<string, string | undefined>, problems: Problems): void {
  const known = [CONFIG_FILE_ENV, ...KEYS.flatMap((d) => (d.env === undefined ? [] : [d.env]))];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name.startsWith(HOOK_ENV_PREFIX) || value === undefined) continue;
    const origin: Origin = { kind: 'env', name };
    if (!known.includes(name)) {
      // A misspelt override must not leave the file value silently in force.
      const hint = nearest(name, known);
      const didYouMean = hint.length > 0 ? ` (did you mean ${hint.join(' or ')}?)` : '';
      problems.list.push({
        key: name,
        message: `config: ${name}: unknown ${ENV_PREFIX} variable${didYouMean}; known: ${known.join(', ')}`,
      });
    } else if (value === '' && name !== CONFIG_FILE_ENV) {
      const def = KEYS.find((d) => d.env === name)!;
      problems.add(origin, envTarget(def), 'is empty; unset the variable to use the file or default value');
    }
  }
}

/** What a variable overrides: the key, or the array it adds to (`auth.tokens`). */
function envTarget(def: KeyDef): string {
  return def.envAppends ? def.key.slice(0, def.key.indexOf('[]')) : def.key;
}

interface Source {
  readonly raw: unknown;
  readonly origin: Origin;
}

/** The environment beats the file, which beats the default. */
function source(def: KeyDef, node: Node | undefined, fileOrigin: Origin, env: Record<string, string | undefined>): Source | undefined {
  if (def.env !== undefined && !def.envAppends) {
    const value = env[def.env];
    if (value !== undefined && value !== '') return { raw: value, origin: { kind: 'env', name: def.env } };
  }
  const leaf = def.key.slice(def.key.lastIndexOf('.') + 1);
  const raw = node?.values.get(leaf);
  if (raw !== undefined) return { raw, origin: fileOrigin };
  if (def.default !== undefined) {
    // File integers arrive as bigint (floats as number), so defaults do too.
    return { raw: typeof def.default === 'number' ? BigInt(def.default) : def.default, origin: { kind: 'default' } };
  }
  return undefined;
}

// ---- values: one checker per catalog type

type Checked = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly text: string };

interface Listen {
  readonly host: string;
  readonly port: number;
}

const LISTEN_EXPECTED = '"host:port" with a port 1-65535 (0 picks a free port; IPv6 as "[::1]:8186")';
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

function check(def: KeyDef, src: Source): Checked {
  const { raw } = src;
  const fromEnv = src.origin.kind === 'env';
  const type = def.type;
  const fail = (expected: string): Checked => ({
    ok: false,
    text: def.secret ? `expected ${expected}` : `expected ${expected}, got ${describe(raw)}`,
  });
  switch (type.kind) {
    case 'listen': {
      const listen = typeof raw === 'string' ? parseListen(raw) : undefined;
      return listen === undefined ? fail(LISTEN_EXPECTED) : { ok: true, value: listen };
    }
    case 'bytes': {
      const min = type.min ?? 1;
      const expected = `a size in bytes from ${min} to ${type.max}: an integer, or a string such as "512MiB" or "2GB"`;
      const n = typeof raw === 'bigint' ? raw : typeof raw === 'string' ? parseByteSize(raw) : undefined;
      if (n === undefined || n < BigInt(min) || n > BigInt(type.max)) return fail(expected);
      return { ok: true, value: Number(n) };
    }
    case 'integer': {
      const unit = def.unit === undefined ? '' : ` of ${def.unit}`;
      const range = type.max === Number.MAX_SAFE_INTEGER ? `>= ${type.min}` : `from ${type.min} to ${type.max}`;
      const n = typeof raw === 'bigint' ? raw : fromEnv && typeof raw === 'string' && /^-?\d+$/.test(raw) ? BigInt(raw) : undefined;
      if (n === undefined || n < BigInt(type.min) || n > BigInt(type.max)) return fail(`an integer number${unit} ${range}`);
      return { ok: true, value: Number(n) };
    }
    case 'string': {
      const rules =
        type.patternText ??
        (type.headerToken ? 'printable ASCII characters without spaces (it is sent in an HTTP header)' : type.noWhitespace ? 'without whitespace' : 'without control characters');
      const expected = `a non-empty string ${type.patternText || type.headerToken ? `of ${rules}` : rules}`;
      if (typeof raw !== 'string' || raw === '' || CONTROL.test(raw)) return fail(expected);
      if (type.noWhitespace && /\s/.test(raw)) return fail(expected);
      if (type.headerToken && !/^[\x21-\x7e]+$/.test(raw)) return fail(expected);
      if (type.pattern && !type.pattern.test(raw)) return fail(expected);
      return { ok: true, value: raw };
    }
    case 'file': {
      if (typeof raw !== 'string' || raw === '') return fail('a file path');
      const unreadable = checkReadableFile(raw);
      return unreadable === undefined ? { ok: true, value: raw } : { ok: false, text: unreadable };
    }
    case 'directory': {
      if (typeof raw !== 'string' || raw === '') return fail('a directory path');
      let stat;
      try {
        stat = statSync(raw, { throwIfNoEntry: false });
      } catch (err) {
        // ENOTDIR (a file on the way), EACCES, ELOOP…: the path can be neither used nor created.
        return { ok: false, text: `"${raw}" cannot be used as a directory: ${(err as Error).message}` };
      }
      if (stat !== undefined && !stat.isDirectory()) return { ok: false, text: `"${raw}" exists and is not a directory` };
      return { ok: true, value: raw };
    }
    case 'url': {
      const expected = type.query
        ? 'an absolute http:// or https:// URL without fragment or credentials'
        : 'an absolute http:// or https:// URL without query string, fragment or credentials';
      if (typeof raw === 'string' && isHttpUrl(raw, type.query === true)) return { ok: true, value: raw };
      // A URL with user:password@ is refused, and its password must not be echoed while saying so.
      if (def.secret || typeof raw !== 'string') return fail(expected);
      return { ok: false, text: `expected ${expected}, got ${describe(withoutUserinfo(raw))}` };
    }
    case 'enum':
      return typeof raw === 'string' && type.values.includes(raw)
        ? { ok: true, value: raw }
        : fail(`one of ${type.values.map((v) => JSON.stringify(v)).join(', ')}`);
    case 'boolean': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (fromEnv && (raw === 'true' || raw === 'false')) return { ok: true, value: raw === 'true' };
      return fail('true or false');
    }
    case 'strings': {
      const ok = Array.isArray(raw) && raw.every((v) => typeof v === 'string' && v !== '' && !CONTROL.test(v));
      return ok ? { ok: true, value: [...(raw as string[])] } : fail('an array of non-empty strings');
    }
  }
}

export function parseListen(text: string): Listen | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const [, host, portText] = m;
  const port = Number(portText);
  if (port > 65535) return undefined;
  const bracketed = text.startsWith('[');
  if (bracketed ? !isIPv6(host) : /^[\d.]+$/.test(host) ? !isIPv4(host) : !HOSTNAME.test(host)) return undefined;
  return { host, port };
}

const BYTE_UNITS: Record<string, bigint> = {
  '': 1n,
  b: 1n,
  kb: 10n ** 3n,
  mb: 10n ** 6n,
  gb: 10n ** 9n,
  tb: 10n ** 12n,
  kib: 2n ** 10n,
  mib: 2n ** 20n,
  gib: 2n ** 30n,
  tib: 2n ** 40n,
};

/**
 * "1048576", "512MiB", "2GB", "1.5 GiB": KB/MB/GB/TB are powers of 1000,
 * KiB/MiB/GiB/TiB powers of 1024, units case-insensitive. Exact arithmetic;
 * a size that is not a whole number of bytes is refused.
 */
export function parseByteSize(text: string): bigint | undefined {
  const m = /^(\d+)(?:\.(\d+))? ?([A-Za-z]*)$/.exec(text);
  if (m === null) return undefined;
  const [, whole, fraction = '', unitText] = m;
  const unit = BYTE_UNITS[unitText.toLowerCase()];
  if (unit === undefined) return undefined;
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(whole + fraction) * unit;
  return scaled % scale === 0n ? scaled / scale : undefined;
}

function withoutUserinfo(url: string): string {
  // Up to the last "@": a password may hold "/", "?" or "#" (unescaped, which is why the URL is refused).
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/).*@/is, '$1***@');
}

function isHttpUrl(text: string, queryAllowed: boolean): boolean {
  if ((!queryAllowed && text.includes('?')) || text.includes('#')) return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.username === '' && url.password === '';
}

function checkReadableFile(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return `"${path}" is not a regular file`;
    closeSync(openSync(path, 'r'));
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    return `cannot read "${path}": ${reason}`;
  }
}

// ---- assembly: from checked values to Config, plus the rules that span keys

function assemble(root: Node, fileOrigin: Origin, env: Record<string, string | undefined>, problems: Problems): Config | undefined {
  const resolved = new Map<string, { value: unknown; origin: Origin }>();
  const given = new Map<string, Origin>();
  for (const def of KEYS) {
    if (def.key.includes('[]')) continue;
    const node = root.tables.get(def.key.slice(0, def.key.indexOf('.')));
    const src = source(def, node, fileOrigin, env);
    if (src === undefined) continue;
    given.set(def.key, src.origin);
    const checked = check(def, src);
    if (checked.ok) resolved.set(def.key, { value: checked.value, origin: src.origin });
    else problems.add(src.origin, def.key, checked.text);
  }
  const get = <T>(key: string): T | undefined => resolved.get(key)?.value as T | undefined;
  const originOf = (key: string): Origin => given.get(key) ?? fileOrigin;

  const tlsCert = get<string>('server.tls_cert');
  const tlsKey = get<string>('server.tls_key');
  if (given.has('server.tls_cert') !== given.has('server.tls_key')) {
    const [set, missing] = given.has('server.tls_cert') ? ['server.tls_cert', 'server.tls_key'] : ['server.tls_key', 'server.tls_cert'];
    problems.add(originOf(set), set, `${missing} must be set too: HTTPS needs both a certificate and a key, or neither`);
  }
  const maxBody = get<number>('server.max_body_bytes');
  const maxStore = get<number>('store.max_bytes');
  if (maxBody !== undefined && maxStore !== undefined && maxStore < maxBody) {
    problems.add(
      originOf('store.max_bytes'),
      'store.max_bytes',
      `${maxStore} is smaller than server.max_body_bytes (${maxBody}): a body of the maximum size could never be stored`,
    );
  }

  // Unset, it grows with max_body_bytes, so a configuration that raised only that still starts.
  const maxInflight = given.get('server.max_inflight_body_bytes')?.kind !== 'default'
    ? get<number>('server.max_inflight_body_bytes')
    : Math.max(DEFAULTS.server.maxInflightBodyBytes, maxBody ?? 0);
  if (maxBody !== undefined && maxInflight !== undefined && maxInflight < maxBody) {
    problems.add(
      originOf('server.max_inflight_body_bytes'),
      'server.max_inflight_body_bytes',
      `${maxInflight} is smaller than server.max_body_bytes (${maxBody}): a body of the maximum size could never be read`,
    );
  }

  const tokens = assembleTokens(root.tables.get('auth')?.arrays.get('tokens') ?? [], fileOrigin, env, problems);
  const targets = assembleTargets(root.arrays.get('targets') ?? [], fileOrigin, problems);
  const expected = assembleExpected(root.tables.get('renewals')?.arrays.get('expected') ?? [], fileOrigin, problems);
  const notifyNode = root.tables.get('notify');
  const webhooks = assembleWebhooks(notifyNode?.arrays.get('webhooks') ?? [], fileOrigin, problems);
  const email = assembleEmail(notifyNode?.arrays.get('email') ?? [], fileOrigin, problems);
  checkChannelNames(notifyNode, fileOrigin, problems);
  const notifyRetryInitialMs = get<number>('notify.retry_initial_ms');
  const notifyRetryMaxMs = get<number>('notify.retry_max_ms');
  if (notifyRetryInitialMs !== undefined && notifyRetryMaxMs !== undefined && notifyRetryMaxMs < notifyRetryInitialMs) {
    problems.add(originOf('notify.retry_max_ms'), 'notify.retry_max_ms', `${notifyRetryMaxMs} is smaller than notify.retry_initial_ms (${notifyRetryInitialMs})`);
  }
  const protectReads = get<boolean>('auth.protect_reads');
  if (protectReads === true && tokens.length === 0) {
    problems.add(originOf('auth.protect_reads'), 'auth.protect_reads', 'needs at least one [[auth.tokens]] (or CERTRELAY_AUTH_TOKEN): with none, nobody could read');
  } else if (protectReads === true && !tokens.some((t) => t.access !== 'write')) {
    problems.add(originOf('auth.protect_reads'), 'auth.protect_reads', 'needs a token that may read (access = "read" or "read-write"): every configured token has access = "write", so nobody could read');
  }
  if (problems.list.length > 0) return undefined;

  const listen = get<Listen>('server.listen')!;
  return {
    server: {
      host: listen.host,
      port: listen.port,
      maxBodyBytes: maxBody!,
      maxInflightBodyBytes: maxInflight!,
      maxConnections: get<number>('server.max_connections')!,
      ...(tlsCert !== undefined && { tlsCert }),
      ...(tlsKey !== undefined && { tlsKey }),
      shutdownGraceMs: get<number>('server.shutdown_grace_ms')!,
      logLevel: get<LogLevel>('server.log_level')!,
    },
    store: { path: get<string>('store.path')!, maxBytes: maxStore!, minFreeBytes: get<number>('store.min_free_bytes')! },
    auth: { tokens, protectReads: protectReads! },
    validation: {
      certbotMeasurement: get<string>('validation.certbot_measurement')!,
      maxFutureSeconds: get<number>('validation.max_future_seconds')!,
    },
    targets,
    renewals: {
      graceDays: get<number>('renewals.grace_days')!,
      defaultIntervalDays: get<number>('renewals.default_interval_days')!,
      evaluationIntervalSeconds: get<number>('renewals.evaluation_interval_seconds')!,
      reminderIntervalHours: get<number>('renewals.reminder_interval_hours')!,
      maxCertificates: get<number>('renewals.max_certificates')!,
      expected,
    },
    notify: { retryInitialMs: notifyRetryInitialMs!, retryMaxMs: notifyRetryMaxMs!, webhooks, email },
  };
}

/** Checks one [[table]] entry against its catalog keys: leaf name → checked value. */
function checkItem(prefix: string, index: number, item: Node, origin: Origin, problems: Problems, note = ''): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const def of KEYS.filter((d) => d.key.startsWith(`${prefix}[].`))) {
    const leaf = def.key.slice(prefix.length + 3);
    const key = `${prefix}[${index}].${leaf}`;
    const raw = item.values.get(leaf);
    if (raw === undefined) {
      if (def.default !== undefined) values.set(leaf, Array.isArray(def.default) ? [...def.default] : def.default);
      else if (def.required) problems.add(origin, key, 'required', note);
      continue;
    }
    const checked = check(def, { raw, origin });
    if (checked.ok) values.set(leaf, checked.value);
    else problems.add(origin, key, checked.text, note);
  }
  return values;
}

function assembleTokens(items: Node[], origin: Origin, env: Record<string, string | undefined>, problems: Problems): TokenConfig[] {
  const tokens: Array<TokenConfig & { label: string; origin: Origin }> = [];
  items.forEach((item, i) => {
    const values = checkItem('auth.tokens', i, item, origin, problems);
    const token = values.get('token') as string | undefined;
    if (token !== undefined) {
      const databases = values.get('databases') as string[];
      const access = values.get('access') as TokenAccess;
      if (access === 'read' && databases.length > 0) {
        problems.add(origin, `auth.tokens[${i}].databases`, 'a token with access = "read" writes nowhere: remove databases, or give it access = "write" or "read-write"');
      }
      tokens.push({ token, databases, access, label: `auth.tokens[${i}].token`, origin });
    }
  });
  const def = KEYS.find((d) => d.key === 'auth.tokens[].token')!;
  const fromEnv = env[def.env!];
  if (fromEnv !== undefined && fromEnv !== '') {
    const envOrigin: Origin = { kind: 'env', name: def.env! };
    const checked = check(def, { raw: fromEnv, origin: envOrigin });
    if (checked.ok) tokens.push({ token: fromEnv, databases: [], access: 'read-write', label: def.env!, origin: envOrigin });
    else problems.add(envOrigin, 'auth.tokens', checked.text);
  }
  tokens.forEach((t, i) => {
    const first = tokens.findIndex((other) => other.token === t.token);
    if (first < i) {
      problems.add(t.origin, t.origin.kind === 'env' ? 'auth.tokens' : t.label, `the same token as ${tokens[first].label}; tokens must be unique`);
    }
  });
  return tokens.map(({ token, databases, access }) => ({ token, databases, access }));
}

function assembleTargets(items: Node[], origin: Origin, problems: Problems): TargetConfig[] {
  const targets: TargetConfig[] = [];
  const firstByName = new Map<string, number>();
  items.forEach((item, i) => {
    const rawName = item.values.get('name');
    const note = typeof rawName === 'string' ? ` (target ${JSON.stringify(rawName)})` : '';
    const flag = (leaf: string, text: string) => problems.add(origin, `targets[${i}].${leaf}`, text, note);
    const before = problems.list.length;
    const v = checkItem('targets', i, item, origin, problems, note);
    const name = v.get('name') as string | undefined;
    if (name !== undefined) {
      const first = firstByName.get(name);
      if (first === undefined) firstByName.set(name, i);
      else flag('name', `duplicate target name, already used by targets[${first}]`);
    }
    const has = (leaf: string) => item.values.has(leaf);
    const kind = v.get('kind') as TargetKind | undefined;
    if (kind === 'influxdb-v1') {
      if (has('username') !== has('password')) {
        flag(has('username') ? 'password' : 'username', 'required: an influxdb-v1 target takes username and password together, or neither');
      }
      if (has('token') && has('username')) flag('token', 'set either username/password or token, not both');
      if (has('org')) flag('org', 'only for influxdb-v2 targets');
    } else if (kind === 'influxdb-v2') {
      for (const leaf of ['org', 'token']) {
        if (!has(leaf)) flag(leaf, 'required for an influxdb-v2 target');
      }
      for (const leaf of ['username', 'password']) {
        if (has(leaf)) flag(leaf, 'only for influxdb-v1 targets; influxdb-v2 authenticates with token');
      }
      if (v.get('create_database') === true) flag('create_database', 'only for influxdb-v1 targets; create the bucket in InfluxDB 2');
    }
    const retryInitialMs = v.get('retry_initial_ms') as number | undefined;
    const retryMaxMs = v.get('retry_max_ms') as number | undefined;
    if (retryInitialMs !== undefined && retryMaxMs !== undefined && retryMaxMs < retryInitialMs) {
      flag('retry_max_ms', `${retryMaxMs} is smaller than retry_initial_ms (${retryInitialMs})`);
    }
    const mapping: TargetMapping[] = [];
    ((v.get('mapping') as string[] | undefined) ?? []).forEach((entry, j) => {
      const parsed = parseMapping(entry);
      if (parsed === undefined) {
        flag(`mapping[${j}]`, `expected "db=to" or "db/rp=to" with non-empty parts, got ${JSON.stringify(entry)}`);
      } else if (kind === 'influxdb-v1' && parsed.to.startsWith('/')) {
        // The target would get db= on every write: influxd refuses it (400 "database is required") and the whole target stalls.
        flag(`mapping[${j}]`, `${JSON.stringify(entry)} names no database: on an influxdb-v1 target it goes to "db" or "db/rp"`);
      } else if (mapping.some((m) => m.db === parsed.db && m.rp === parsed.rp)) {
        flag(`mapping[${j}]`, `${JSON.stringify(entry)} routes the same source as an earlier entry`);
      } else {
        mapping.push(parsed);
      }
    });
    if (problems.list.length > before) return;
    const optional = (leaf: 'username' | 'password' | 'token' | 'org') => (v.has(leaf) ? { [leaf]: v.get(leaf) as string } : {});
    targets.push({
      name: name!,
      kind: kind!,
      url: v.get('url') as string,
      ...optional('username'),
      ...optional('password'),
      ...optional('token'),
      ...optional('org'),
      databases: v.get('databases') as string[],
      batchMaxPoints: v.get('batch_max_points') as number,
      batchMaxBytes: v.get('batch_max_bytes') as number,
      concurrency: v.get('concurrency') as number,
      timeoutMs: v.get('timeout_ms') as number,
      retryInitialMs: retryInitialMs!,
      retryMaxMs: retryMaxMs!,
      createDatabase: v.get('create_database') as boolean,
      healthMaxLagSeconds: v.get('health_max_lag_seconds') as number,
      mapping,
    });
  });
  return targets;
}

function assembleExpected(items: Node[], origin: Origin, problems: Problems): ExpectedCertificate[] {
  const expected: ExpectedCertificate[] = [];
  items.forEach((item, i) => {
    const v = checkItem('renewals.expected', i, item, origin, problems);
    const host = v.get('host') as string | undefined;
    const domain = v.get('domain') as string | undefined;
    if (host === undefined || domain === undefined) return;
    // A pair the hook can never report would alert as "never reported" forever: "all" is a host's total, not a
    // certificate, and a name the schema refuses is never stored.
    if (domain === ALL_DOMAINS || !isCertificateDomain(domain)) {
      problems.add(origin, `renewals.expected[${i}].domain`, `expected a certificate's DNS name or wildcard name (not "${ALL_DOMAINS}", a host's total), got ${JSON.stringify(domain)}`);
      return;
    }
    const first = expected.findIndex((e) => e.host === host && e.domain === domain);
    if (first >= 0) {
      problems.add(origin, `renewals.expected[${i}].domain`, `${JSON.stringify(domain)} on ${JSON.stringify(host)} is already listed at renewals.expected[${first}]`);
      return;
    }
    expected.push({ host, domain });
  });
  return expected;
}

/** Header names as RFC 9110 tokens. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function assembleWebhooks(items: Node[], origin: Origin, problems: Problems): WebhookChannelConfig[] {
  const webhooks: WebhookChannelConfig[] = [];
  items.forEach((item, i) => {
    const before = problems.list.length;
    const v = checkItem('notify.webhooks', i, item, origin, problems, channelNote(item));
    const flag = (leaf: string, text: string) => problems.add(origin, `notify.webhooks[${i}].${leaf}`, text, channelNote(item));
    const headers: Array<[string, string]> = [];
    ((v.get('headers') as string[] | undefined) ?? []).forEach((entry, j) => {
      const colon = entry.indexOf(':');
      const name = colon > 0 ? entry.slice(0, colon).trim() : '';
      // The entry itself may hold a secret: the message names its position only.
      const value = entry.slice(colon + 1).trim();
      if (!HEADER_NAME.test(name)) flag(`headers[${j}]`, 'expected "Name: value" with a valid header name');
      else if (!/^[\x20-\x7e\t]*$/.test(value)) flag(`headers[${j}]`, 'the value must be printable ASCII (it is sent in an HTTP header)');
      else headers.push([name, value]);
    });
    const bearerToken = v.get('bearer_token') as string | undefined;
    if (bearerToken !== undefined && headers.some(([name]) => name.toLowerCase() === 'authorization')) {
      flag('bearer_token', 'set either bearer_token or an Authorization header, not both');
    }
    if (problems.list.length > before) return;
    webhooks.push({
      name: v.get('name') as string,
      url: v.get('url') as string,
      headers,
      ...(bearerToken !== undefined && { bearerToken }),
      timeoutMs: v.get('timeout_ms') as number,
    });
  });
  return webhooks;
}

function assembleEmail(items: Node[], origin: Origin, problems: Problems): EmailChannelConfig[] {
  const channels: EmailChannelConfig[] = [];
  items.forEach((item, i) => {
    const before = problems.list.length;
    const v = checkItem('notify.email', i, item, origin, problems, channelNote(item));
    const flag = (leaf: string, text: string) => problems.add(origin, `notify.email[${i}].${leaf}`, text, channelNote(item));
    if (item.values.has('user') !== item.values.has('password')) {
      flag(item.values.has('user') ? 'password' : 'user', 'required: SMTP authentication takes user and password together, or neither');
    }
    const to = v.get('to') as string[] | undefined;
    if (to !== undefined && to.length === 0) flag('to', 'expected at least one recipient');
    to?.forEach((address, j) => {
      if (!EMAIL_ADDRESS.test(address)) flag(`to[${j}]`, `expected ${EMAIL_ADDRESS_TEXT}, got ${JSON.stringify(address)}`);
    });
    if (problems.list.length > before) return;
    const optional = (leaf: 'user' | 'password') => (v.has(leaf) ? { [leaf]: v.get(leaf) as string } : {});
    channels.push({
      name: v.get('name') as string,
      host: v.get('host') as string,
      port: v.get('port') as number,
      security: v.get('security') as SmtpSecurity,
      ...optional('user'),
      ...optional('password'),
      from: v.get('from') as string,
      to: to!,
      timeoutMs: v.get('timeout_ms') as number,
    });
  });
  return channels;
}

/** ` (channel "ops-mail")` after the key, when the entry has a readable name. */
function channelNote(item: Node): string {
  const name = item.values.get('name');
  return typeof name === 'string' ? ` (channel ${JSON.stringify(name)})` : '';
}

/** Webhooks and e-mail channels share one namespace: the outbox and the metrics name a channel by it alone. */
function checkChannelNames(notify: Node | undefined, origin: Origin, problems: Problems): void {
  const firstByName = new Map<string, string>();
  for (const kind of ['webhooks', 'email'] as const) {
    (notify?.arrays.get(kind) ?? []).forEach((item, i) => {
      const name = item.values.get('name');
      if (typeof name !== 'string') return;
      const key = `notify.${kind}[${i}].name`;
      const first = firstByName.get(name);
      if (first === undefined) firstByName.set(name, key);
      else problems.add(origin, key, `duplicate channel name, already used by ${first}`, channelNote(item));
    });
  }
}

/** `"db=to"` or `"db/rp=to"`; the source splits at its first "/", as a 2.x bucket does. */
function parseMapping(entry: string): TargetMapping | undefined {
  const eq = entry.lastIndexOf('=');
  if (eq <= 0 || eq === entry.length - 1) return undefined;
  const source = entry.slice(0, eq);
  const to = entry.slice(eq + 1);
  const slash = source.indexOf('/');
  if (slash < 0) return { db: source, to };
  const db = source.slice(0, slash);
  const rp = source.slice(slash + 1);
  return db === '' || rp === '' ? undefined : { db, rp, to };
}

// ---- small pieces

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return 'a date';
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  return String(value);
}

/** Candidates within a small edit distance: the likely intended spelling of a typo. */
function nearest(name: string, candidates: readonly string[]): string[] {
  const limit = Math.max(1, Math.floor(name.length / 3));
  return candidates.filter((c) => editDistance(name.toLowerCase(), c.toLowerCase()) <= limit);
}

/** Levenshtein distance where swapping two neighbouring letters also counts as one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
