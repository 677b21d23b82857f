import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { verifyChain, type NewEvent, type StoredEvent } from '@twostep/eventstore';
import { CliError, Progress, UsageError, type Output } from '../io';
import { eventPages, openEventStore, type StoreOptions } from '../store';
import { formatProblems } from './verify';

export interface ImportOptions extends StoreOptions {
  /** An export file (JSON Lines), or '-' for standard input. */
  inFile: string;
  /** Standard input, for `--in -`; default process.stdin. */
  stdin?: NodeJS.ReadableStream;
}

/**
 * Appends an export into a fresh store, in the export's global order, each event with its
 * eventId, type, data and metadata unchanged. Stream and revision are unchanged too, so the
 * target recomputes exactly the same hash chain: the import is checked against the export's
 * hashes afterwards. A tampered export (one that fails `verify`) is refused rather than
 * re-hashed into a clean-looking log.
 */
export async function importEvents(options: ImportOptions, out: Output, err: Output = process.stderr): Promise<number> {
  if (!options.inFile) throw new UsageError('--in FILE is required (an export written by `twostep export`, or - for stdin)');
  const events = await readExport(options);
  const problems = verifyChain(events);
  if (problems.length > 0) {
    out.write(`refused: the export does not verify (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was imported\n`);
    out.write(formatProblems(problems));
    return 1;
  }

  const opened = await openEventStore(options, 'create');
  try {
    const head = await opened.eventStore.headPosition();
    if (head > 0) {
      throw new CliError(`refused: ${opened.description} is not empty (head position ${head}); import only into a fresh store`);
    }
    // Consecutive events of one stream go in one append; the expected revision makes a gap or
    // a duplicate in the export fail loudly instead of renumbering anything.
    const streams = new Set<string>();
    const progress = new Progress(err, 'imported', events[events.length - 1]!.position);
    for (let i = 0; i < events.length; ) {
      const first = events[i]!;
      let end = i + 1;
      while (end < events.length && events[end]!.stream === first.stream) end++;
      const batch = events.slice(i, end).map(toNewEvent);
      await opened.eventStore.append(first.stream, batch, first.revision === 0 ? 'no_stream' : first.revision - 1);
      streams.add(first.stream);
      i = end;
      progress.update(i, events[i - 1]!.position);
    }
    progress.finish();

    // Same fields, same order: every hash must come out as exported.
    const expected = new Map(events.map((e) => [e.eventId, e.hash]));
    let imported = 0;
    const mismatched: string[] = [];
    for await (const page of eventPages(opened.eventStore)) {
      for (const e of page) {
        imported++;
        if (expected.get(e.eventId) !== e.hash) mismatched.push(`${e.stream}@${e.revision}`);
      }
    }
    if (imported !== events.length || mismatched.length > 0) {
      out.write(`imported ${imported} of ${events.length} events into ${opened.description}, but ${mismatched.length} hash(es) differ from the export: ${mismatched.slice(0, 10).join(', ')}\n`);
      return 1;
    }
    out.write(`imported ${events.length} events in ${streams.size} streams into ${opened.description}; every hash matches the export\n`);
    return 0;
  } finally {
    await opened.close();
  }
}

function toNewEvent(e: StoredEvent): NewEvent {
  return { eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata };
}

/** Reads and checks every line before anything is appended: a bad file imports nothing. */
async function readExport(options: ImportOptions): Promise<StoredEvent[]> {
  let input: NodeJS.ReadableStream;
  if (options.inFile === '-') {
    input = options.stdin ?? process.stdin;
  } else {
    if (!fs.existsSync(options.inFile)) throw new CliError(`--in: no such file ${options.inFile}`);
    input = fs.createReadStream(options.inFile, { encoding: 'utf8' });
  }
  const events: StoredEvent[] = [];
  const seenIds = new Set<string>();
  let lineNumber = 0;
  for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) {
    lineNumber++;
    if (text.trim() === '') continue;
    const event = parseLine(text, lineNumber);
    if (seenIds.has(event.eventId)) throw new CliError(`line ${lineNumber}: eventId ${event.eventId} appears twice`);
    seenIds.add(event.eventId);
    events.push(event);
  }
  if (events.length === 0) throw new CliError(`${options.inFile === '-' ? 'stdin' : options.inFile} holds no events`);
  return events;
}

function parseLine(text: string, lineNumber: number): StoredEvent {
  const fail = (what: string): never => {
    throw new CliError(`line ${lineNumber}: ${what} (expected a line written by \`twostep export\`)`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  if (!isRecord(raw)) return fail('not a JSON object');
  const { position, stream, revision, eventId, type, data, metadata, hash, prevHash, recordedAt } = raw;
  if (!Number.isSafeInteger(position) || (position as number) < 1) fail('position must be an integer >= 1');
  if (typeof stream !== 'string' || stream === '') fail('stream must be a non-empty string');
  if (!Number.isSafeInteger(revision) || (revision as number) < 0) fail('revision must be an integer >= 0');
  if (typeof eventId !== 'string' || eventId === '') fail('eventId must be a non-empty string');
  if (typeof type !== 'string' || type === '') fail('type must be a non-empty string');
  if (!isRecord(data)) fail('data must be an object');
  if (!isRecord(metadata) || typeof metadata.at !== 'string' || !isRecord(metadata.actor) || typeof metadata.schemaVersion !== 'number') {
    fail('metadata must be an object with at, actor and schemaVersion');
  }
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) fail('hash must be a sha256 hex string');
  if (!(prevHash === null || (typeof prevHash === 'string' && /^[0-9a-f]{64}$/.test(prevHash)))) fail('prevHash must be null or a sha256 hex string');
  return {
    position: position as number,
    stream: stream as string,
    revision: revision as number,
    eventId: eventId as string,
    type: type as string,
    data: data as StoredEvent['data'],
    metadata: metadata as StoredEvent['metadata'],
    hash: hash as string,
    prevHash: prevHash as string | null,
    recordedAt: typeof recordedAt === 'string' ? recordedAt : '',
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
