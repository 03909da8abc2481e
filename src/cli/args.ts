// The operator commands' command lines: which command, which options, checked
// once into a plain object. Anything wrong is a UsageError (exit code 2) whose
// message names the problem and the --help to read.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DURATION_HELP, parseDuration } from './duration.js';

/** How long `dead-letters replay` waits for the relay to deliver, unless --timeout says otherwise. */
export const DEFAULT_REPLAY_TIMEOUT_MS = 60_000;

export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command line whose --help explains it, e.g. `certrelay dead-letters purge`. */
  readonly commandLine: string;

  constructor(message: string, commandLine: string) {
    super(message);
    this.commandLine = commandLine;
  }
}

interface Common {
  /** --config; undefined: CERTRELAY_CONFIG or the embedded defaults, as for the relay. */
  readonly config?: string;
  readonly json: boolean;
}

export type CliCommand =
  | { readonly kind: 'help'; readonly text: string }
  | ({ readonly kind: 'status' } & Common)
  | ({ readonly kind: 'renewals' } & Common)
  | ({ readonly kind: 'list'; readonly target?: string } & Common)
  | ({ readonly kind: 'show'; readonly id: number } & Common)
  | ({
      readonly kind: 'replay';
      readonly target?: string;
      readonly ids: readonly number[];
      readonly wait: boolean;
      readonly timeoutMs: number;
    } & Common)
  | ({
      readonly kind: 'purge';
      readonly target?: string;
      readonly ids: readonly number[];
      readonly olderThanMs?: number;
      readonly all: boolean;
    } & Common);

export const COMMANDS = ['status', 'dead-letters', 'renewals'] as const;
const DEAD_LETTER_COMMANDS = ['list', 'show', 'replay', 'purge'] as const;
type DeadLetterCommand = (typeof DEAD_LETTER_COMMANDS)[number];

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  target: { type: 'string' },
  'older-than': { type: 'string' },
  all: { type: 'boolean' },
  'no-wait': { type: 'boolean' },
  timeout: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];
type OptionName = keyof typeof OPTIONS;

const ALLOWED: Record<'status' | 'renewals' | DeadLetterCommand, readonly OptionName[]> = {
  status: ['config', 'json', 'help'],
  renewals: ['config', 'json', 'help'],
  list: ['config', 'json', 'help', 'target'],
  show: ['config', 'json', 'help'],
  replay: ['config', 'json', 'help', 'target', 'no-wait', 'timeout'],
  purge: ['config', 'json', 'help', 'target', 'older-than', 'all'],
};

const CONFIG_HELP = `  --config FILE   the relay's TOML configuration (or CERTRELAY_CONFIG); the
                  command opens the store at its store.path, while the relay runs
  --json          print JSON for scripts instead of a table (fields: docs/operations.md)`;

export const HELP = {
  status: `usage: certrelay status [--config FILE] [--json]

Per configured target: points, batches and bytes not yet delivered, the age of
the oldest of them, the last success, the last error (status, text, when), the
dead-letter count, and whether the target is held (it refuses everything, e.g.
401, until an operator fixes it). Safe while the relay runs.

${CONFIG_HELP}`,
  renewals: `usage: certrelay renewals [--config FILE] [--json]

One row per certificate (host and domain) that reported a renewal: the last
renewal, its age in days, when the next renewal is expected and from when it
is overdue, and the state now (new, ok, overdue, snoozed, retired). The
longest without a renewal first, as GET /api/v1/renewals. Safe while the
relay runs.

${CONFIG_HELP}`,
  'dead-letters': `usage: certrelay dead-letters COMMAND [options]

Lines a target refused (400/422), kept with the target's error text, and
held lines: acknowledged points waiting for a database the target lacks,
which the relay sends by itself once it exists (STATUS ends in "held").

  list [--target T]                     one row per dead letter
  show ID                               its lines and the target's full error
  replay [--target T] [ID…]             send them again (after fixing the target)
  purge [--older-than D] [--target T] [ID…] | --all
                                        delete them

Every command takes --config FILE and --json; see certrelay dead-letters COMMAND --help.`,
  list: `usage: certrelay dead-letters list [--target T] [--config FILE] [--json]

Lists the dead letters, oldest first: id, target, when, the target's status,
points, database and the start of the error text.

  --target T      only those of target T
${CONFIG_HELP}`,
  show: `usage: certrelay dead-letters show ID [--config FILE] [--json]

Prints one dead letter: its lines exactly as they would be sent, and the
target's full error text.

${CONFIG_HELP}`,
  replay: `usage: certrelay dead-letters replay [--target T] [ID…] [--no-wait] [--timeout D] [--config FILE] [--json]

Puts the dead letters back in the log, each for its own target only; the
running relay sends them within about a second. Then waits until every target
has taken them and reports how many were sent again and whether any came back
as new dead letters. Without --target or IDs, every dead letter is replayed.

  --target T      only those of target T
  ID…             only these (with --target: those of them that belong to T)
  --no-wait       return once they are queued
  --timeout D     stop waiting after D (default ${DEFAULT_REPLAY_TIMEOUT_MS / 1000}s); they stay queued, and
                  certrelay status shows what holds them up. D: ${DURATION_HELP}
${CONFIG_HELP}

Exit code 1 when the wait timed out or some lines were refused again.`,
  purge: `usage: certrelay dead-letters purge (--older-than D | --target T | ID… | --all) [--config FILE] [--json]

Deletes dead letters for good. At least one filter, or --all; several filters
must all hold (e.g. --target T --older-than 7d).

  --older-than D  created more than D ago. D: ${DURATION_HELP}
  --target T      those of target T (configured or not)
  ID…             these
  --all           every dead letter
${CONFIG_HELP}`,
} as const;

/**
 * The operator command named on the command line, or undefined when there is
 * none (then the process serves). Option values are skipped, so
 * `certrelay --config F status` names `status`.
 */
export function commandWord(argv: readonly string[]): string | undefined {
  const at = commandIndex(argv);
  return at === undefined ? undefined : argv[at];
}

/** Where commandWord found the command in argv. */
function commandIndex(argv: readonly string[]): number | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return i + 1 < argv.length ? i + 1 : undefined;
    if (arg.startsWith('-')) {
      const name = arg.replace(/^-+/, '');
      const def = (OPTIONS as Record<string, { type: string }>)[name];
      // The relay's own --forget-target NAME takes a value too: NAME is no command.
      if ((def?.type === 'string' || name === 'forget-target') && !arg.includes('=')) i++;
      continue;
    }
    return i;
  }
  return undefined;
}

// The relay's own options (src/main.ts), besides those the commands share with it.
const RELAY_OPTIONS = ['forget-target', 'version'];

/**
 * An option before the command word that neither the commands nor the relay know. Its value was
 * then taken for the command: `certrelay --confg F` must say the option is wrong, not that F is.
 */
function unknownOptionBefore(argv: readonly string[], at: number): string | undefined {
  return argv.slice(0, at).find((arg) => {
    if (!arg.startsWith('-') || arg === '--' || arg === '-') return false;
    const name = arg.replace(/^-+/, '').split('=')[0];
    return !arg.startsWith('--') || !(Object.hasOwn(OPTIONS, name) || RELAY_OPTIONS.includes(name));
  })?.split('=')[0];
}

export function parseCommandLine(argv: readonly string[]): CliCommand {
  const word = commandWord(argv);
  if (word === 'status') return parseStatus(argv);
  if (word === 'renewals') return parseRenewals(argv);
  if (word === 'dead-letters') return parseDeadLetters(argv);
  const at = commandIndex(argv);
  const mistyped = at === undefined ? undefined : unknownOptionBefore(argv, at);
  if (mistyped !== undefined) throw new UsageError(`unknown option ${mistyped}`, 'certrelay');
  throw new UsageError(`unknown command ${JSON.stringify(word)}: the commands are ${COMMANDS.join(', ')}`, 'certrelay');
}

function parseStatus(argv: readonly string[]): CliCommand {
  const where = 'certrelay status';
  const { values, positionals } = parse(argv, where);
  if (values.help) return { kind: 'help', text: HELP.status };
  checkAllowed(values, ALLOWED.status, where);
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`, where);
  return { kind: 'status', ...common(values) };
}

function parseRenewals(argv: readonly string[]): CliCommand {
  const where = 'certrelay renewals';
  const { values, positionals } = parse(argv, where);
  if (values.help) return { kind: 'help', text: HELP.renewals };
  checkAllowed(values, ALLOWED.renewals, where);
  noArguments(positionals.slice(1), where);
  return { kind: 'renewals', ...common(values) };
}

function parseDeadLetters(argv: readonly string[]): CliCommand {
  // Errors found while parsing already point at the subcommand's --help when one is named.
  const named = argv.find((arg) => (DEAD_LETTER_COMMANDS as readonly string[]).includes(arg));
  const { values, positionals } = parse(argv, named === undefined ? 'certrelay dead-letters' : `certrelay dead-letters ${named}`);
  const sub = positionals[1];
  if (sub === undefined) {
    if (values.help) return { kind: 'help', text: HELP['dead-letters'] };
    throw new UsageError(`dead-letters needs a command: ${DEAD_LETTER_COMMANDS.join(', ')}`, 'certrelay dead-letters');
  }
  if (!(DEAD_LETTER_COMMANDS as readonly string[]).includes(sub)) {
    throw new UsageError(
      `unknown dead-letters command ${JSON.stringify(sub)}: use ${DEAD_LETTER_COMMANDS.join(', ')}`,
      'certrelay dead-letters',
    );
  }
  const command = sub as DeadLetterCommand;
  const where = `certrelay dead-letters ${command}`;
  if (values.help) return { kind: 'help', text: HELP[command] };
  checkAllowed(values, ALLOWED[command], where);
  const rest = positionals.slice(2);
  const target = values.target;
  if (target === '') throw new UsageError('--target needs a target name', where);
  const targetOption = target === undefined ? {} : { target };

  switch (command) {
    case 'list':
      noArguments(rest, where);
      return { kind: 'list', ...common(values), ...targetOption };
    case 'show': {
      if (rest.length !== 1) throw new UsageError('show takes exactly one dead-letter ID (from certrelay dead-letters list)', where);
      return { kind: 'show', ...common(values), id: parseId(rest[0], where) };
    }
    case 'replay': {
      const timeoutText = values.timeout;
      const timeoutMs = timeoutText === undefined ? DEFAULT_REPLAY_TIMEOUT_MS : parseDuration(timeoutText);
      if (timeoutMs === undefined || timeoutMs <= 0) {
        throw new UsageError(`--timeout ${JSON.stringify(timeoutText)} is not a duration above zero: use ${DURATION_HELP}`, where);
      }
      if (values['no-wait'] && timeoutText !== undefined) throw new UsageError('--timeout has no use with --no-wait', where);
      return {
        kind: 'replay',
        ...common(values),
        ...targetOption,
        ids: rest.map((id) => parseId(id, where)),
        wait: !values['no-wait'],
        timeoutMs,
      };
    }
    case 'purge': {
      const ids = rest.map((id) => parseId(id, where));
      const olderText = values['older-than'];
      const olderThanMs = olderText === undefined ? undefined : parseDuration(olderText);
      if (olderText !== undefined && olderThanMs === undefined) {
        throw new UsageError(`--older-than ${JSON.stringify(olderText)} is not a duration: use ${DURATION_HELP}`, where);
      }
      // Older than nothing is every one: deleting all of them for good is said with --all, not by a slip of the unit.
      if (olderThanMs === 0) {
        throw new UsageError(`--older-than ${olderText} leaves no dead letter out: drop it (with --target or IDs), or use --all for every one`, where);
      }
      const all = values.all === true;
      const filtered = olderThanMs !== undefined || target !== undefined || ids.length > 0;
      if (all && filtered) throw new UsageError('--all deletes every dead letter: give it alone, or drop it and keep the filters', where);
      if (!all && !filtered) {
        throw new UsageError('purge deletes for good: say which, with --older-than D, --target T or IDs, or --all for every one', where);
      }
      return {
        kind: 'purge',
        ...common(values),
        ...targetOption,
        ids,
        ...(olderThanMs !== undefined && { olderThanMs }),
        all,
      };
    }
  }
}

type Values = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean };

function parse(argv: readonly string[], where: string): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: withDashValues(argv), options: OPTIONS, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    throw new UsageError(describeParseError(err as Error & { code?: string }), where);
  }
}

/**
 * `--older-than -5d` as `--older-than=-5d`: node:util refuses a value that starts with a dash as
 * ambiguous, and "needs a value" would hide what was wrong with it. A known option stays an option.
 */
function withDashValues(argv: readonly string[]): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = argv[i + 1];
    const option = arg.startsWith('--') && !arg.includes('=') ? OPTIONS[arg.slice(2) as OptionName] : undefined;
    if (option?.type === 'string' && next !== undefined && next.startsWith('-') && next !== '-' && !isOption(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  return args;
}

function isOption(arg: string): boolean {
  return arg.startsWith('--') && Object.hasOwn(OPTIONS, arg.slice(2).split('=')[0]);
}

/** node:util's messages, shortened to what an operator needs. */
function describeParseError(err: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted !== undefined) return `unknown option ${quoted}`;
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted !== undefined) {
    const option = quoted.split(' ')[0];
    return OPTIONS[option.replace(/^--/, '') as OptionName]?.type === 'boolean' ? `${option} takes no value` : `${option} needs a value`;
  }
  return err.message;
}

function checkAllowed(values: Values, allowed: readonly OptionName[], where: string): void {
  for (const name of Object.keys(values) as OptionName[]) {
    if (values[name] !== undefined && !allowed.includes(name)) {
      throw new UsageError(`--${name} does not apply here`, where);
    }
  }
}

function common(values: Values): Common {
  return { ...(values.config !== undefined && { config: values.config }), json: values.json === true };
}

function noArguments(rest: readonly string[], where: string): void {
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`, where);
}

function parseId(text: string, where: string): number {
  const id = /^[1-9]\d{0,15}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw new UsageError(`${JSON.stringify(text)} is not a dead-letter ID (a positive integer, as certrelay dead-letters list shows)`, where);
  }
  return id;
}
