import pino, { type Logger } from 'pino';

/** Structured logs. Headers that carry keys are redacted; secrets are never passed to a logger. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'twostep' },
    redact: { paths: ['req.headers.authorization', '*.authorization', '*.key', '*.secret', '*.code', '*.recoveryCode'], censor: '[redacted]' },
  };
  return pino(options, destination ?? bufferedStdout());
}

/**
 * stdout in 8 kB writes, flushed at least every 200 ms and on exit, instead of one write(2) per
 * line: one JSON line per request would otherwise cost more than the request's own routing.
 * What a crash can lose is the last 200 ms of lines.
 */
function bufferedStdout(): pino.DestinationStream {
  const stream = pino.destination({ dest: 1, minLength: 8192, sync: false });
  setInterval(() => {
    try {
      stream.flush();
    } catch {
      // nothing buffered, or a write in flight: the next tick flushes
    }
  }, 200).unref();
  process.once('exit', () => {
    try {
      stream.flushSync();
    } catch {
      // stdout already gone
    }
  });
  return stream;
}
