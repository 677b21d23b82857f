import { parseStream } from '@twostep/domain';
import { verifyChain, type ChainProblem, type StoredEvent } from '@twostep/eventstore';
import { formatTable, Progress, type Output } from '../io';
import { eventPages, openEventStore, type StoreOptions } from '../store';

export type VerifyOptions = StoreOptions;

/**
 * Reads every event in global order and recomputes each stream's hash chain. Exit 0 with
 * counts when it is intact; exit 1 listing every problem (position, stream, revision, kind).
 */
export async function verify(options: VerifyOptions, out: Output, err: Output = process.stderr): Promise<number> {
  const opened = await openEventStore(options, 'read');
  try {
    const head = await opened.eventStore.headPosition();
    const progress = new Progress(err, 'read', head);
    const events: StoredEvent[] = [];
    for await (const page of eventPages(opened.eventStore)) {
      events.push(...page);
      progress.update(events.length, page[page.length - 1]!.position);
    }
    progress.finish();
    const problems = verifyChain(events);
    const streams = new Set(events.map((e) => e.stream));
    const accounts = [...streams].filter((s) => parseStream(s).kind === 'account').length;
    const counts = `${events.length} events in ${streams.size} streams (${accounts} accounts, ${streams.size - accounts} other)`;
    if (problems.length === 0) {
      out.write(`OK: ${counts} in ${opened.description}; every hash chain is intact (head position ${head})\n`);
      return 0;
    }
    out.write(`FAILED: ${problems.length} problem${problems.length === 1 ? '' : 's'} in ${counts} in ${opened.description}\n`);
    out.write(formatProblems(problems));
    return 1;
  } finally {
    await opened.close();
  }
}

export function formatProblems(problems: ChainProblem[]): string {
  return formatTable(
    ['POSITION', 'STREAM', 'REVISION', 'KIND', 'DETAIL'],
    problems.map((p) => [String(p.position), p.stream, String(p.revision), p.kind, p.detail]),
  );
}
