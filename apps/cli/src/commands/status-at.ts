import { accountStream, policyStream } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import { emptyStatus, foldPolicy, presentStatus, projectStatus, type StatusView } from '@twostep/readmodel';
import { CliError, parseAccountRef, UsageError, yesNo, type Output } from '../io';
import { openEventStore, type StoreOptions } from '../store';

export interface StatusAtOptions extends StoreOptions {
  /** `tenant/user` */
  account: string;
  /** ISO time with a zone (`Z` or `+hh:mm`), or a date (UTC midnight). */
  at?: string;
  /** A global position, as printed by `export`, `verify` and `explain`. */
  position?: string;
  json?: boolean;
}

/**
 * An account's status view from only the events at or before a time or a global position.
 * Locks and trusted devices are shown as they stood at that moment: as of `--at`, or as of the
 * last event folded for `--position`.
 */
export async function statusAt(options: StatusAtOptions, out: Output): Promise<number> {
  if (!options.account) throw new UsageError('--account TENANT/USER is required');
  const { tenantId, userId } = parseAccountRef(options.account);
  if ((options.at === undefined) === (options.position === undefined)) throw new UsageError('give exactly one of --at ISO-TIME or --position N');
  const cut: { kind: 'time'; at: Date } | { kind: 'position'; position: number } =
    options.at !== undefined ? { kind: 'time', at: parseTime(options.at) } : { kind: 'position', position: parsePosition(options.position!) };

  const opened = await openEventStore(options, 'read');
  try {
    const events = await opened.eventStore.readStream(accountStream(tenantId, userId));
    if (events.length === 0) throw new CliError(`no events for account ${tenantId}/${userId} in ${opened.description}`);
    const before = (e: StoredEvent) => (cut.kind === 'time' ? Date.parse(e.metadata.at) <= cut.at.getTime() : e.position <= cut.position);
    const included = events.filter(before);
    const view = included.reduce<StatusView>((current, e) => projectStatus(current, e) ?? current, emptyStatus(tenantId, userId));
    const last: StoredEvent | undefined = included[included.length - 1];
    const asOf = cut.kind === 'time' ? cut.at : last ? new Date(last.metadata.at) : new Date(0);
    // The tenant's policy as it stood at the same cut (email codes required or not).
    const policy = foldPolicy((await opened.eventStore.readStream(policyStream(tenantId))).filter(before));
    const status = presentStatus(view, asOf, policy);
    if (options.json) {
      out.write(`${JSON.stringify(status)}\n`);
      return 0;
    }
    const where = cut.kind === 'time' ? `at ${cut.at.toISOString()}` : `at position ${cut.position}`;
    const through = last ? `${included.length} of ${events.length} events, the last at position ${last.position} (${last.metadata.at})` : `none of its ${events.length} events`;
    out.write(`${tenantId}/${userId} ${where}: ${through}\n\n`);
    out.write(statusLines(status));
    return 0;
  } finally {
    await opened.close();
  }
}

function statusLines(s: StatusView): string {
  const rows: [string, string][] = [
    ['status', s.status],
    ['method', s.method ?? '-'],
    ['setup pending', yesNo(s.setupPending)],
    ['recovery codes remaining', String(s.recoveryCodesRemaining)],
    ['reset recommended', yesNo(s.resetRecommended)],
    ['failed attempts', String(s.failedAttempts)],
    ['locked until', s.lockedUntil ?? '-'],
    ['trusted devices', s.trustedDevices.length === 0 ? '-' : s.trustedDevices.map((d) => `${d.deviceId}${d.label ? ` (${d.label})` : ''} until ${d.expiresAt}`).join(', ')],
    ['last code sent', s.lastCodeSent ? `to ${s.lastCodeSent.to} at ${s.lastCodeSent.at}` : '-'],
    ['enabled at', s.enabledAt ?? '-'],
    ['password reset at', s.passwordResetAt ?? '-'],
    ['last change', s.revision < 0 ? '-' : `${s.updatedAt} (revision ${s.revision})`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}\n`).join('');
}

function parseTime(value: string): Date {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const withZone = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(value);
  const time = Date.parse(value);
  if (!(dateOnly || withZone) || Number.isNaN(time)) {
    throw new UsageError(`--at must be an ISO time with a zone, e.g. 2026-11-23T10:00:00Z or 2026-11-23T11:00:00+01:00 (or a date, meaning UTC midnight); got '${value}'`);
  }
  return new Date(time);
}

function parsePosition(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`--position must be a whole number >= 0; got '${value}'`);
  return Number(value);
}
