/** Measuring helpers the benchmarks share: percentiles, a process's own CPU time and peak memory. */
import * as fs from 'node:fs';

export interface Stats {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN };
}

export function median(values: number[]): number {
  return stats(values).p50;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
  } catch {
    return Number.NaN;
  }
}

/** Peak resident set size of a process in MiB (VmHWM), from /proc (Linux). */
export function peakRssMiB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process now, in MiB (VmRSS), from /proc (Linux). */
export function rssMiB(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Resets a process's peak RSS (VmHWM) to its current RSS, so that a later `peakRssMiB` is the peak
 * of what came after (Linux: `5` written to /proc/PID/clear_refs). False when it cannot.
 */
export function resetPeakRss(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * The peak RSS of a phase: VmHWM after a reset when the kernel allows it, else the largest VmRSS
 * seen by sampling every 50 ms (which can miss a short spike). `stop()` answers the peak in MiB.
 */
export function watchPeakRss(pid: number | undefined): { how: 'VmHWM' | 'sampled VmRSS'; stop(): number } {
  if (resetPeakRss(pid)) return { how: 'VmHWM', stop: () => peakRssMiB(pid) };
  let peak = rssMiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
  timer.unref();
  return {
    how: 'sampled VmRSS',
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMiB(pid));
    },
  };
}
