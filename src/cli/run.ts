// The operator commands (`certrelay status`, `certrelay renewals`,
// `certrelay dead-letters …`): parse the command line, load the relay's
// configuration, open its store next to the running relay, run one command,
// close. Exit codes: see EXIT in output.ts.
//
// The store is opened without targets and forwarding is never started here:
// Forwarding.start() forgets the cursors of targets it is not given, and
// opening with targets would create cursors the relay has not chosen.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/defaults.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { STORE_FILE_NAME, Store, StoreSchemaError } from '../log/store.js';
import { parseCommandLine, UsageError, type CliCommand } from './args.js';
import { runList, runPurge, runShow } from './dead-letters.js';
import { CommandFailed, EXIT, type CliIo } from './output.js';
import { runRenewals } from './renewals.js';
import { runReplay } from './replay.js';
import { runStatus } from './status.js';
import { storeProblem } from './store-errors.js';

export { commandWord } from './args.js';

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`certrelay: ${err.message} (see ${err.commandLine} --help)\n`);
    return EXIT.usage;
  }
  if (command.kind === 'help') {
    io.stdout.write(`${command.text}\n`);
    return EXIT.ok;
  }

  let config: Config;
  try {
    config = loadConfig({ ...(command.config !== undefined && { file: command.config }), env: io.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.stderr.write(`certrelay: ${err.message}\n`);
    return EXIT.config;
  }

  let store: Store | undefined;
  try {
    store = openStore(config);
    return await execute(command, io, store, config);
  } catch (err) {
    const problem = err instanceof CommandFailed ? err.message : storeProblem(err, join(config.store.path, STORE_FILE_NAME));
    if (problem === undefined) throw err;
    io.stderr.write(`certrelay: ${problem}\n`);
    return EXIT.failed;
  } finally {
    store?.close({ checkpoint: false });
  }
}

function execute(command: Exclude<CliCommand, { kind: 'help' }>, io: CliIo, store: Store, config: Config): Promise<number> | number {
  switch (command.kind) {
    case 'status':
      return runStatus(io, store, config, command.json);
    case 'renewals':
      return runRenewals(io, store, config, command.json);
    case 'list':
      return runList(io, store, command.target, command.json);
    case 'show':
      return runShow(io, store, config, command.id, command.json);
    case 'replay':
      return runReplay(io, store, config, command, command.json);
    case 'purge':
      return runPurge(io, store, command, command.json);
  }
}

function openStore(config: Config): Store {
  const file = join(config.store.path, STORE_FILE_NAME);
  // Store.open would create an empty store: a wrong store.path must not look like "no backlog".
  if (!existsSync(file)) {
    throw new CommandFailed(
      `no store at ${file}: the relay creates it on its first start; check store.path (or CERTRELAY_STORE_PATH) and --config`,
    );
  }
  try {
    return Store.open({ dir: config.store.path, maxBytes: config.store.maxBytes, migrate: false });
  } catch (err) {
    if (err instanceof StoreSchemaError) throw new CommandFailed(err.message);
    const code = (err as { code?: string }).code;
    const hint =
      code === 'SQLITE_BUSY'
        ? 'the relay held the store busy for too long; try again'
        : 'run the command as the user the relay runs as, and check store.path';
    throw new CommandFailed(`cannot open the store ${file}: ${(err as Error).message}; ${hint}`);
  }
}
