#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { exportEvents } from './commands/export';
import { explain } from './commands/explain';
import { importEvents } from './commands/import';
import { reencryptSecrets } from './commands/reencrypt-secrets';
import { replay } from './commands/replay';
import { statusAt } from './commands/status-at';
import { verify } from './commands/verify';
import { parseAnchor, type LogAnchor } from '@twostep/eventstore';
import { CliError, UsageError, type Output } from './io';

/** Only argv parsing and dispatch live here; each command is a function in commands/. */

export interface CliIo {
  out: Output;
  err: Output;
  env?: NodeJS.ProcessEnv;
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | string[] | undefined>;

interface Command {
  summary: string;
  usage: string;
  options: Options;
  /** Lines under "Options:" after the common ones. */
  help: string[];
  notes?: string[];
  run(values: Values, io: CliIo): Promise<number>;
}

const COMMON: Options = {
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};
const COMMON_HELP = [
  '--data-dir DIR      data directory holding twostep.db (default: $TWOSTEP_DATA_DIR, else ./var)',
  '-h, --help          show this help',
];

const str = (values: Values, name: string): string | undefined => values[name] as string | undefined;
const store = (values: Values, io: CliIo) => ({ dataDir: str(values, 'data-dir'), env: io.env });

function anchorsOf(values: Values): LogAnchor[] {
  return ((values.anchor as string[] | undefined) ?? []).map((text) => {
    const anchor = parseAnchor(text);
    if (!anchor) throw new UsageError(`--anchor must be N:DIGEST as verify prints it (a count, a colon, 64 hex digits); got '${text}'`);
    return anchor;
  });
}

function waitSeconds(values: Values): number | undefined {
  const wait = str(values, 'wait');
  if (wait === undefined) return undefined;
  if (!/^\d{1,4}$/.test(wait)) throw new UsageError(`--wait must be a whole number of seconds (0-9999); got '${wait}'`);
  return Number(wait) * 1000;
}

const rebuildCommand: Command = {
  summary: 'reset and rebuild the read models (same as replay --rebuild)',
  usage: 'twostep rebuild-projections [--wait SECONDS] [--data-dir DIR]',
  options: { wait: { type: 'string' } },
  help: ['--wait SECONDS      how long to wait for a running projector to stop (default 30)'],
  notes: [
    'Read models go where the api reads them: Redis under REDIS_KEY_PREFIX when REDIS_URL is set,',
    'else the rm_ tables of <data dir>/twostep.db (also when ESDB_URL is set).',
    'A running projector process (it holds a lease) makes the rebuild wait, then give up;',
    "the embedded api's in-process projector does not: views are idempotent by revision.",
  ],
  run: (values, io) => replay({ ...store(values, io), rebuild: true, waitMs: waitSeconds(values) }, io.out, io.err),
};

const COMMANDS: Record<string, Command> = {
  export: {
    summary: 'write events as JSON Lines in global order (all, one tenant, or one account)',
    usage: 'twostep export [--tenant T | --account T/U] [--out FILE] [--data-dir DIR]',
    options: { tenant: { type: 'string' }, account: { type: 'string' }, out: { type: 'string', short: 'o' } },
    help: [
      '--tenant T          only tenant T: its accounts and its policy',
      '--account T/U       only account U of tenant T, e.g. store-1/alice',
      '-o, --out FILE      write to FILE (created owner-only) instead of standard output',
    ],
    notes: [
      'Fields per line: position, stream, revision, eventId, type, at, actor, data, metadata, hash, prevHash, recordedAt.',
      'Secrets stay as stored: TOTP secrets encrypted, codes as keyed hashes, addresses sealed.',
    ],
    run: (values, io) =>
      exportEvents({ ...store(values, io), tenant: str(values, 'tenant'), account: str(values, 'account'), outFile: str(values, 'out') }, io.out, io.err),
  },
  import: {
    summary: 'append an export into a fresh, empty event store',
    usage: 'twostep import --in FILE --data-dir DIR',
    options: { in: { type: 'string', short: 'i' } },
    help: ['-i, --in FILE       an export written by `twostep export` (- for standard input)'],
    notes: [
      'Events keep their eventId, type, data and metadata, stream by stream in global order, so the',
      'target computes the same hash chain. A non-empty target or an export that fails verification is refused.',
      'Copy keys.json (or set the same TWOSTEP_* keys) to let the api use the imported events.',
    ],
    run: (values, io) => importEvents({ ...store(values, io), inFile: str(values, 'in') ?? '' }, io.out, io.err),
  },
  replay: {
    summary: "fold the whole log and print every account's 2FA status",
    usage: 'twostep replay [--rebuild [--wait SECONDS]] [--json] [--data-dir DIR]',
    options: { rebuild: { type: 'boolean' }, json: { type: 'boolean' }, wait: { type: 'string' } },
    help: [
      '--rebuild           reset and rebuild the read models instead of printing (as rebuild-projections)',
      '--wait SECONDS      with --rebuild: how long to wait for a running projector to stop (default 30)',
      '--json              one status view (JSON) per line instead of the table',
    ],
    notes: ['Progress goes to standard error: a bar on a terminal, else one summary line.'],
    run: (values, io) =>
      replay({ ...store(values, io), rebuild: values.rebuild === true, json: values.json === true, waitMs: waitSeconds(values) }, io.out, io.err),
  },
  'rebuild-projections': rebuildCommand,
  verify: {
    summary: 'recompute every stream hash chain, check anchors; exit 1 on any problem',
    usage: 'twostep verify [--anchor N:DIGEST ...] [--json] [--data-dir DIR]',
    options: { anchor: { type: 'string', multiple: true }, json: { type: 'boolean' } },
    help: [
      '--anchor N:DIGEST   an anchor printed by an earlier verify: the log must still begin with those N events',
      '--json              one JSON object: ok, events, streams, accounts, head, store, anchor, anchors, problems',
    ],
    notes: [
      'Each problem is printed with its position, stream, revision and kind:',
      'changed, removed, reordered or inserted.',
      'The chains alone cannot see events cut off the end of a stream, or a rewrite that re-hashes',
      'the rest of a stream; an anchor kept outside twostep from an earlier run catches both.',
      'The log is read once, a page at a time, keeping a few values per stream (not the events);',
      'only streams that fail that pass are read again, to classify their problems.',
      'Progress goes to standard error; with --json, standard output holds only the JSON object.',
    ],
    run: (values, io) => verify({ ...store(values, io), anchors: anchorsOf(values), json: values.json === true }, io.out, io.err),
  },
  'status-at': {
    summary: "an account's 2FA status as of a time or a global position",
    usage: 'twostep status-at --account T/U (--at ISO-TIME | --position N) [--json] [--data-dir DIR]',
    options: { account: { type: 'string' }, at: { type: 'string' }, position: { type: 'string' }, json: { type: 'boolean' } },
    help: [
      '--account T/U       the account, e.g. store-1/alice',
      '--at ISO-TIME       fold events decided at or before this time, e.g. 2026-11-23T10:00:00Z',
      '--position N        fold events at or before global position N',
      '--json              the status view as JSON',
    ],
    run: (values, io) =>
      statusAt(
        { ...store(values, io), account: str(values, 'account') ?? '', at: str(values, 'at'), position: str(values, 'position'), json: values.json === true },
        io.out,
      ),
  },
  explain: {
    summary: "an account's event log in plain sentences, with time and actor",
    usage: 'twostep explain --account T/U [--json] [--data-dir DIR]',
    options: { account: { type: 'string' }, json: { type: 'boolean' } },
    help: [
      '--account T/U       the account, e.g. store-1/alice',
      "--json              one JSON object per event (the api's event log entry) instead of the sentences",
    ],
    notes: [
      'Each line: time, what happened, who did it, and the API key used where it is not the actor\'s id.',
      'JSON fields per line: position, revision, eventId, at, type, what, actor {kind, id?, apiKeyId?};',
      'never the event data (secrets, code hashes, addresses).',
    ],
    run: (values, io) => explain({ ...store(values, io), account: str(values, 'account') ?? '', json: values.json === true }, io.out),
  },
  'reencrypt-secrets': {
    summary: 'key rotation: re-encrypt TOTP secrets with the active key',
    usage: 'twostep reencrypt-secrets [--dry-run] [--data-dir DIR]',
    options: { 'dry-run': { type: 'boolean' } },
    help: ['--dry-run           list the accounts that would be re-encrypted; append nothing'],
    notes: [
      'Key ring: TWOSTEP_SECRET_KEYS (kid:base64key[,kid:base64key]; the first entry is active,',
      'the others only decrypt), else the secretKeys in <data dir>/keys.json.',
      'Appends a TotpSecretReencrypted event per account (actor system twostep-cli); never edits events.',
    ],
    run: (values, io) => reencryptSecrets({ ...store(values, io), dryRun: values['dry-run'] === true }, io.out),
  },
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    'twostep - audit and operate the twostep event log',
    '',
    'Usage: twostep <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`),
    '',
    'Options for every command:',
    ...COMMON_HELP.map((line) => `  ${line}`),
    '',
    'The event store is <data dir>/twostep.db, or EventStoreDB when ESDB_URL is set.',
    "Run 'twostep <command> --help' for a command's options.",
    'Exit status: 0 success, 1 failure (problems found, missing data), 2 bad arguments.',
    '',
  ].join('\n');
}

export function commandHelp(name: string): string {
  const command = COMMANDS[name]!;
  return [
    `twostep ${name} - ${command.summary}`,
    '',
    `Usage: ${command.usage}`,
    '',
    'Options:',
    ...[...command.help, ...COMMON_HELP].map((line) => `  ${line}`),
    ...(command.notes ? ['', ...command.notes] : []),
    '',
  ].join('\n');
}

/** Parses argv (without node and the script), runs the command, returns the exit status. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === undefined) io.err.write('twostep: missing command\n\n');
    (name === undefined ? io.err : io.out).write(mainHelp());
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.err.write(`twostep: unknown command '${name}'\n\n${mainHelp()}`);
    return 2;
  }
  let values: Values;
  try {
    values = parseArgs({ args: rest, options: { ...COMMON, ...command.options }, strict: true, allowPositionals: false }).values as Values;
  } catch (error) {
    // node's messages go on about '--' after the first sentence; the first one says what is wrong.
    const message = (error as Error).message.split(/\.\s/)[0]!.replace(/\.$/, '');
    io.err.write(`twostep ${name}: ${message}\nRun 'twostep ${name} --help' for usage.\n`);
    return 2;
  }
  if (values.help) {
    io.out.write(commandHelp(name));
    return 0;
  }
  try {
    return await command.run(values, io);
  } catch (error) {
    if (error instanceof CliError) {
      io.err.write(`twostep ${name}: ${error.message}\n`);
      if (error instanceof UsageError || error.exitCode === 2) io.err.write(`Run 'twostep ${name} --help' for usage.\n`);
      return error.exitCode;
    }
    io.err.write(`twostep ${name} failed: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  // `twostep export | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  void main(process.argv.slice(2), { out: process.stdout, err: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}
