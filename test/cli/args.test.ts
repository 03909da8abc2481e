// The operator commands' command lines: what each one means, and the usage
// errors (exit code 2) that name the problem and the --help to read.
import t from 'tap';
import { commandWord, DEFAULT_REPLAY_TIMEOUT_MS, parseCommandLine, UsageError } from '../../src/cli/args.js';
import { runRelayToExit } from '../support/relay-process.js';

t.test('the first word that is not an option or its value names the command; none means serve', async (t) => {
  t.equal(commandWord([]), undefined);
  t.equal(commandWord(['--config', 'f.toml']), undefined);
  t.equal(commandWord(['--config=f.toml', '--help']), undefined);
  t.equal(commandWord(['status']), 'status');
  t.equal(commandWord(['--config', 'status.toml', 'status']), 'status', 'an option value is not the command');
  t.equal(commandWord(['--json', 'dead-letters', 'list']), 'dead-letters');
  t.equal(commandWord(['--target', 'a', 'dead-letters']), 'dead-letters');
  t.equal(commandWord(['frob']), 'frob');
});

t.test('each command line parses into one plain command', async (t) => {
  const cases: Array<[string[], unknown]> = [
    [['status'], { kind: 'status', json: false }],
    [['--config', 'c.toml', 'status', '--json'], { kind: 'status', config: 'c.toml', json: true }],
    [['dead-letters', 'list'], { kind: 'list', json: false }],
    [['dead-letters', 'list', '--target', 'influx-a', '--json'], { kind: 'list', target: 'influx-a', json: true }],
    [['dead-letters', 'show', '42'], { kind: 'show', id: 42, json: false }],
    [['dead-letters', 'replay'], { kind: 'replay', json: false, ids: [], wait: true, timeoutMs: DEFAULT_REPLAY_TIMEOUT_MS }],
    [
      ['dead-letters', 'replay', '3', '5', '--target=b', '--timeout', '2m'],
      { kind: 'replay', json: false, target: 'b', ids: [3, 5], wait: true, timeoutMs: 120_000 },
    ],
    [['dead-letters', 'replay', '--no-wait'], { kind: 'replay', json: false, ids: [], wait: false, timeoutMs: DEFAULT_REPLAY_TIMEOUT_MS }],
    [['dead-letters', 'purge', '--older-than', '7d'], { kind: 'purge', json: false, ids: [], olderThanMs: 7 * 86_400_000, all: false }],
    [['dead-letters', 'purge', '--target', 'a', '1', '2'], { kind: 'purge', json: false, target: 'a', ids: [1, 2], all: false }],
    [['dead-letters', 'purge', '--all', '--json'], { kind: 'purge', json: true, ids: [], all: true }],
  ];
  for (const [argv, expected] of cases) t.same(parseCommandLine(argv), expected, argv.join(' '));
});

t.test('--help prints the command\'s own help', async (t) => {
  t.match(parseCommandLine(['status', '--help']), { kind: 'help', text: /^usage: certrelay status/ });
  t.match(parseCommandLine(['dead-letters', '--help']), { kind: 'help', text: /list \[--target T\]/ });
  t.match(parseCommandLine(['dead-letters', 'purge', '--help']), { kind: 'help', text: /--older-than D/ });
});

t.test('usage errors name the problem and the command whose --help explains it', async (t) => {
  const cases: Array<[string[], RegExp, string]> = [
    [['frob'], /unknown command "frob": the commands are status, dead-letters/, 'certrelay'],
    [['status', 'now'], /unexpected argument "now"/, 'certrelay status'],
    [['status', '--target', 'a'], /--target does not apply here/, 'certrelay status'],
    [['status', '--jsno'], /unknown option --jsno/, 'certrelay status'],
    [['dead-letters'], /needs a command: list, show, replay, purge/, 'certrelay dead-letters'],
    [['dead-letters', 'lsit'], /unknown dead-letters command "lsit"/, 'certrelay dead-letters'],
    [['dead-letters', 'list', '--target'], /--target needs a value/, 'certrelay dead-letters list'],
    [['dead-letters', 'list', '--target='], /--target needs a target name/, 'certrelay dead-letters list'],
    [['dead-letters', 'list', '7'], /unexpected argument "7"/, 'certrelay dead-letters list'],
    [['dead-letters', 'list', '--older-than', '7d'], /--older-than does not apply here/, 'certrelay dead-letters list'],
    [['dead-letters', 'show'], /exactly one dead-letter ID/, 'certrelay dead-letters show'],
    [['dead-letters', 'show', '1', '2'], /exactly one dead-letter ID/, 'certrelay dead-letters show'],
    [['dead-letters', 'show', 'abc'], /"abc" is not a dead-letter ID/, 'certrelay dead-letters show'],
    [['dead-letters', 'show', '0'], /"0" is not a dead-letter ID/, 'certrelay dead-letters show'],
    [['dead-letters', 'show', '-1'], /unknown option -1/, 'certrelay dead-letters show'],
    [['dead-letters', 'replay', '--timeout', '10'], /--timeout "10" is not a duration above zero/, 'certrelay dead-letters replay'],
    [['dead-letters', 'replay', '--timeout', '0s'], /not a duration above zero/, 'certrelay dead-letters replay'],
    [['dead-letters', 'replay', '--no-wait', '--timeout', '5s'], /--timeout has no use with --no-wait/, 'certrelay dead-letters replay'],
    [['dead-letters', 'replay', '--json=yes'], /--json takes no value/, 'certrelay dead-letters replay'],
    [['dead-letters', 'purge', '--older-than', '-5d'], /--older-than "-5d" is not a duration/, 'certrelay dead-letters purge'],
    [['dead-letters', 'purge', '--older-than', '--all'], /--older-than needs a value/, 'certrelay dead-letters purge'],
    [['dead-letters', 'purge'], /purge deletes for good: say which/, 'certrelay dead-letters purge'],
    [['dead-letters', 'purge', '--older-than', '7'], /--older-than "7" is not a duration: use a number and a unit/, 'certrelay dead-letters purge'],
    [['dead-letters', 'purge', '--older-than', '7days'], /not a duration/, 'certrelay dead-letters purge'],
    [['dead-letters', 'purge', '--older-than', '0s'], /--older-than 0s leaves no dead letter out: drop it \(with --target or IDs\), or use --all/, 'certrelay dead-letters purge'],
    [['dead-letters', 'purge', '--older-than', '0d', '--target', 'a'], /--older-than 0d leaves no dead letter out/, 'certrelay dead-letters purge'],
    [['dead-letters', 'purge', '--all', '--target', 'a'], /--all deletes every dead letter: give it alone/, 'certrelay dead-letters purge'],
    [['dead-letters', 'purge', '--all', '3'], /give it alone/, 'certrelay dead-letters purge'],
    // A mistyped option before its value made the value look like the command.
    [['--confg', '/etc/certrelay/certrelay.toml'], /^unknown option --confg$/, 'certrelay'],
    [['--config', 'c.toml', '--forget-targets', 'influx-a'], /^unknown option --forget-targets$/, 'certrelay'],
    [['-c', 'c.toml'], /^unknown option -c$/, 'certrelay'],
    [['--log-level=debug', 'x'], /^unknown option --log-level$/, 'certrelay'],
    [['--config', 'c.toml', '--forget-target', 'a', 'frob'], /^unknown command "frob"/, 'certrelay'],
  ];
  for (const [argv, message, commandLine] of cases) {
    t.throws(() => parseCommandLine(argv), UsageError, argv.join(' '));
    try {
      parseCommandLine(argv);
    } catch (err) {
      t.match((err as UsageError).message, message, argv.join(' '));
      t.equal((err as UsageError).commandLine, commandLine, argv.join(' '));
    }
  }
});

t.test('from the shell: a usage error is one line on stderr and exit code 2; --help exits 0', async (t) => {
  const bad = await runRelayToExit({ env: {}, args: ['dead-letters', 'purge', '--older-than', '7'] });
  t.equal(bad.code, 2);
  t.equal(bad.stdout, '');
  t.equal(
    bad.stderr,
    'certrelay: --older-than "7" is not a duration: use a number and a unit: ms, s, m, h, d or w (7d, 12h, 30m, 1h30m) ' +
      '(see certrelay dead-letters purge --help)\n',
  );

  const unknown = await runRelayToExit({ env: {}, args: ['frob'] });
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /^certrelay: unknown command "frob": the commands are status, dead-letters, renewals \(see certrelay --help\)\n$/);

  const mistyped = await runRelayToExit({ env: {}, args: ['--confg', 'certrelay.toml'] });
  t.equal(mistyped.code, 2);
  t.equal(mistyped.stderr, 'certrelay: unknown option --confg (see certrelay --help)\n', 'the option is named, not its value as a command');

  const short = await runRelayToExit({ env: {}, args: ['-h'] });
  t.equal(short.code, 0, '-h is --help');
  t.match(short.stdout, /certrelay status \[--config FILE\] \[--json\]/);
  const commandShort = await runRelayToExit({ env: {}, args: ['dead-letters', 'purge', '-h'] });
  t.equal(commandShort.code, 0, 'and so for a command');
  t.match(commandShort.stdout, /^usage: certrelay dead-letters purge/);

  const help = await runRelayToExit({ env: {}, args: ['--help'] });
  t.equal(help.code, 0);
  t.match(help.stdout, /certrelay status \[--config FILE\] \[--json\]/, 'the relay\'s own help lists the commands');
  t.match(help.stdout, /certrelay dead-letters list\|show\|replay\|purge/);

  const replayHelp = await runRelayToExit({ env: {}, args: ['dead-letters', 'replay', '--help'] });
  t.equal(replayHelp.code, 0);
  t.match(replayHelp.stdout, /^usage: certrelay dead-letters replay/);
});
