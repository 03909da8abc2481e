#!/usr/bin/env node
// Process entry: load config → build the relay → listen; SIGTERM/SIGINT close
// it gracefully (intake answers 503, commits finish, the store closes).
// `certrelay status` and `certrelay dead-letters …` go to the operator CLI (src/cli/).
import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { commandWord, runCli } from './cli/run.js';
import { ConfigError, loadConfig } from './config/load.js';
import { RemovedTargetBacklogError } from './forward/removed-targets.js';
import { TlsFilesError } from './http/tls-files.js';
import { StoreSchemaError } from './log/store.js';
import { StoreInUseError } from './log/store-lock.js';
import { RELAY_VERSION } from './version.js';

const USAGE = `usage: certrelay [--config FILE]                       run the relay
       certrelay status [--config FILE] [--json]       per target: backlog, errors, dead letters
       certrelay renewals [--config FILE] [--json]     per certificate: last renewal, age, expected, state
       certrelay dead-letters list|show|replay|purge   lines a target refused (dead-letters --help)

  --config FILE   TOML configuration (or set CERTRELAY_CONFIG); without one the
                  embedded defaults apply: listen 127.0.0.1:8186, store ./data
  --forget-target NAME
                  a target removed from the configuration still had points it never
                  received: give them up for it (the relay refuses to start otherwise)
  --version       print the version
  -h, --help      print this text; COMMAND --help for a command's options

Each single-valued key can be overridden by a CERTRELAY_ environment variable: see docs/configuration.md.`;

/** Why listen() failed, for the errors an operator causes and fixes; anything else is a bug and keeps its stack. */
const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use (another certrelay, or another server on that port)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
};

async function main(): Promise<number> {
  if (commandWord(process.argv.slice(2)) !== undefined) return operatorCommand(process.argv.slice(2));
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string' },
        'forget-target': { type: 'string', multiple: true },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`certrelay: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`certrelay ${RELAY_VERSION}\n`);
    return 0;
  }

  let config;
  try {
    config = loadConfig({ file: args.config, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`certrelay: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }

  let relay;
  try {
    relay = buildApp(config, { logger: { level: config.server.logLevel }, forgetTargets: args['forget-target'] ?? [] });
  } catch (err) {
    if (err instanceof StoreInUseError) {
      process.stderr.write(`certrelay: ${err.message}\n`);
      return 1;
    }
    if (err instanceof StoreSchemaError) {
      process.stderr.write(`certrelay: ${err.message}\n`);
      // A store written by a newer certrelay (a rollback): no restart of this version can open it.
      return 78;
    }
    if (err instanceof TlsFilesError) {
      process.stderr.write(`certrelay: ${err.message}\n`);
      return 78; // EX_CONFIG, as for a TLS file that cannot be read
    }
    if (err instanceof RemovedTargetBacklogError) {
      process.stderr.write(`certrelay: targets: ${err.message}\n`);
      return 78; // as a refused configuration: restarting as it is cannot help
    }
    const storeProblem = storeOpenProblem(err);
    if (storeProblem !== undefined) {
      process.stderr.write(`certrelay: cannot open the store in ${config.store.path} (store.path): ${storeProblem}\n`);
      return 1;
    }
    throw err;
  }
  let address;
  try {
    address = await relay.app.listen({ host: config.server.host, port: config.server.port });
  } catch (err) {
    const reason = LISTEN_ERRORS[(err as NodeJS.ErrnoException).code ?? ''];
    if (reason === undefined) throw err;
    await relay.close();
    process.stderr.write(`certrelay: cannot listen on ${config.server.host}:${config.server.port}: ${reason} (server.listen, or CERTRELAY_LISTEN)\n`);
    return 1;
  }
  relay.app.log.info({ address, store: config.store.path, targets: config.targets.length }, 'certrelay listening');

  const stop = (signal: string): void => {
    relay.app.log.info({ signal }, 'stopping: intake closed, finishing commits');
    const force = setTimeout(() => {
      relay.app.log.error('graceful stop took too long; exiting');
      process.exit(1);
    }, config.server.shutdownGraceMs + 5000);
    force.unref();
    relay.close().then(
      () => process.exit(0),
      (err: unknown) => {
        relay.app.log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // As nginx: SIGHUP reads the renewed certificate (systemctl reload, a certbot deploy hook). Unhandled, it
  // would end the relay on the spot, without the graceful stop.
  process.on('SIGHUP', () => {
    if (relay.rereadTls() === undefined) relay.app.log.info({ signal: 'SIGHUP' }, 'SIGHUP: no TLS files to read again (server.tls_cert); other settings need a restart');
  });
  return -1; // keep running
}

// SQLite's answers when the store's directory or disk cannot be used; any other error keeps its stack trace.
const STORE_OPEN_ADVICE: Readonly<Record<string, string>> = {
  SQLITE_FULL: 'free space on its disk, then start again',
  SQLITE_CANTOPEN: 'check that the directory exists or can be created, and that this user may write to it',
  SQLITE_READONLY: 'the directory or its files are read-only for this user',
  SQLITE_PERM: 'this user may not write to the directory or its files',
  SQLITE_IOERR: 'the disk reported an I/O error; check it (dmesg), then start again',
  // SQLite could not allocate its shared-memory file (certrelay.db-shm, 32 KiB): a disk with less room than that.
  SQLITE_IOERR_SHMSIZE: 'no room for its shared-memory file (certrelay.db-shm): free space on its disk, then start again',
  ENOSPC: 'free space on its disk, then start again',
  EACCES: 'this user may not create the directory or write to it',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a directory',
};

function storeOpenProblem(err: unknown): string | undefined {
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  const advice = STORE_OPEN_ADVICE[code] ?? STORE_OPEN_ADVICE[code.replace(/_[A-Z]+$/, '')];
  if (advice === undefined) return undefined;
  return `${message} (${code}): ${advice}`;
}

/** Runs one CLI command next to the (possibly running) relay; Ctrl-C stops a replay's wait, not the replay. */
async function operatorCommand(argv: readonly string[]): Promise<number> {
  const interrupt = new AbortController();
  const onSigint = (): void => interrupt.abort();
  process.once('SIGINT', onSigint);
  try {
    return await runCli(argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      nowMs: Date.now,
      interrupted: interrupt.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

main().then(
  (code) => {
    if (code >= 0) exitAfterOutput(code);
  },
  (err: unknown) => {
    process.stderr.write(`certrelay: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    exitAfterOutput(1);
  },
);

/**
 * Exits once stdout and stderr have handed everything to the OS. A pipe takes 64 KiB at
 * once and Node queues the rest: process.exit() right away would cut `… --json | jq` short.
 */
function exitAfterOutput(code: number): void {
  let pending = 2;
  const flushed = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}
