/** Output, errors and formatting shared by the commands. No I/O of its own beyond the streams it is given. */

/** Where a command writes: process.stdout/stderr, a file stream, or a test's string buffer. */
export interface Output {
  write(chunk: string): boolean | void;
  isTTY?: boolean;
  once?(event: 'drain', listener: () => void): unknown;
}

/** A failure to report as one clear line (no stack trace); main prints it and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad arguments: exit code 2, and main points at the command's --help. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** Writes and waits for 'drain' when the stream asks for it, so a large export does not pile up in memory. */
export async function writeAll(out: Output, chunk: string): Promise<void> {
  if (out.write(chunk) === false && typeof out.once === 'function') {
    await new Promise<void>((resolve) => out.once!('drain', resolve));
  }
}

/** Tenant and user ids as the api accepts them (see @twostep/domain streams.ts). */
const ID = /^[A-Za-z0-9_@.+-]{1,128}$/;

export interface AccountRef {
  tenantId: string;
  userId: string;
}

/** `tenant/user`, e.g. `store-1/alice`. */
export function parseAccountRef(value: string, flag = '--account'): AccountRef {
  const slash = value.indexOf('/');
  const tenantId = slash < 0 ? '' : value.slice(0, slash);
  const userId = slash < 0 ? '' : value.slice(slash + 1);
  if (!ID.test(tenantId) || !ID.test(userId)) {
    throw new UsageError(`${flag} must be TENANT/USER (letters, digits and _ @ . + -), e.g. store-1/alice; got '${value}'`);
  }
  return { tenantId, userId };
}

export function parseTenantId(value: string, flag = '--tenant'): string {
  if (!ID.test(value)) throw new UsageError(`${flag} must be a tenant id (letters, digits and _ @ . + -); got '${value}'`);
  return value;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export const yesNo = (value: boolean): string => (value ? 'yes' : 'no');

/**
 * Progress of a pass over the log, on stderr. On a terminal: a bar redrawn in place with `\r`
 * (at most every 100 ms). Otherwise (a pipe, a CI log): nothing until one summary line at the end.
 * Progress is by global position against the head position read at the start: EventStoreDB
 * positions are byte offsets, not counts, but they grow with the log all the same.
 */
export class Progress {
  private readonly startedAt: number;
  private lastDrawAt = -Infinity;
  private count = 0;
  private position = 0;
  private drawnWidth = 0;

  constructor(
    private readonly err: Output,
    /** Past tense for the summary: "replayed", "verified", … */
    private readonly verb: string,
    private readonly headPosition: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.startedAt = clock();
  }

  update(count: number, position: number): void {
    this.count = count;
    this.position = position;
    if (!this.err.isTTY) return;
    const now = this.clock();
    if (now - this.lastDrawAt < 100) return;
    this.lastDrawAt = now;
    this.draw(this.bar());
  }

  /** Ends the bar (terminal) or writes the summary line (otherwise). */
  finish(): void {
    const summary = this.summary();
    if (this.err.isTTY) this.draw(`${this.bar(true)}  ${summary}`, true);
    else this.err.write(`${summary}\n`);
  }

  get eventsPerSecond(): number {
    const seconds = Math.max((this.clock() - this.startedAt) / 1000, 0.001);
    return Math.round(this.count / seconds);
  }

  summary(): string {
    const seconds = (this.clock() - this.startedAt) / 1000;
    return `${this.verb} ${this.count} events in ${seconds.toFixed(2)} s (${this.eventsPerSecond} events/s)`;
  }

  private bar(done = false): string {
    const fraction = done || this.headPosition <= 0 ? 1 : Math.min(this.position / this.headPosition, 1);
    const width = 30;
    const filled = Math.round(fraction * width);
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    const head = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}`;
    return done ? head : `${head}  ${this.count} events  ${this.eventsPerSecond} events/s`;
  }

  private draw(text: string, final = false): void {
    // Pad over what the previous frame left on the line.
    const padding = ' '.repeat(Math.max(this.drawnWidth - text.length, 0));
    this.drawnWidth = text.length;
    this.err.write(`\r${text}${padding}${final ? '\n' : ''}`);
  }
}
