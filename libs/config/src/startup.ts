import { ConfigError } from './config';

/**
 * What a process prints on stderr when it cannot start: a configuration problem or a port in use
 * is one line each, naming the variable, with no stack (nothing to debug, something to set);
 * anything else is a bug or an outage and keeps its stack.
 */
export function describeStartupFailure(program: string, error: unknown, portVariable: 'PORT' | 'HEALTH_PORT' | 'TWOSTEP_WEB_PORT'): string {
  if (error instanceof ConfigError) return error.problems.map((problem) => `${program}: invalid configuration: ${problem}\n`).join('');
  const errno = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (errno?.code === 'EADDRINUSE') {
    const fix = portVariable === 'PORT' ? 'PORT or HOST' : portVariable === 'TWOSTEP_WEB_PORT' ? 'TWOSTEP_WEB_PORT, or off' : 'HEALTH_PORT';
    return `${program}: ${portVariable}: ${errno.port ?? '?'} on ${errno.address ?? 'HOST'} is already in use (set ${fix})\n`;
  }
  return `${program} failed to start: ${(error as Error)?.stack ?? String(error)}\n`;
}
