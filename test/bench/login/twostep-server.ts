/**
 * twostep's api for the login benchmark: exactly what `npm start` runs (embedded mode, projector
 * and mailer in the process, SQLite), on a clock that runs BENCH_CLOCK_SPEED times faster than
 * real time from BENCH_CLOCK_EPOCH, so every enrolled account gets a fresh TOTP step every few
 * seconds (a code may be used once per step). The driver computes codes on the same clock.
 * With BENCH_PROFILE=dir, SIGUSR2 starts a V8 CPU profile (after enrolment and warm-up) and
 * SIGTERM writes it to dir before the process stops.
 */
import 'reflect-metadata';
import * as fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock } from '@twostep/app';
import { parseEnv } from '@twostep/config';
import { startApi } from '../../../apps/api/src/server';

// BENCH_V8_FLAGS: V8 flags to try (e.g. heap growth) without changing the service.
if (process.env.BENCH_V8_FLAGS) v8.setFlagsFromString(process.env.BENCH_V8_FLAGS);

const epoch = Number(process.env.BENCH_CLOCK_EPOCH);
const speed = Number(process.env.BENCH_CLOCK_SPEED);
const clock: Clock = { now: () => new Date(epoch + (Date.now() - epoch) * speed) };

startApi(parseEnv(), { clock }).then(
  (server) => {
    process.stdout.write(`listening ${(server.app.getHttpServer().address() as { port: number }).port}\n`);
    const profileDir = process.env.BENCH_PROFILE;
    const session = profileDir ? new Session() : null;
    if (session) {
      session.connect();
      process.once('SIGUSR2', () => {
        // BENCH_HEAP=1: a sampling allocation profile (collected objects included) beside the CPU profile.
        // BENCH_HEAP=promoted: only what survived the young generation (objects a scavenge collected
        // are dropped from the samples, those only a full GC collected are kept): what fills old space.
        const youngToo = process.env.BENCH_HEAP !== 'promoted';
        if (process.env.BENCH_HEAP) void session.post('HeapProfiler.enable').then(() => session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: youngToo } as never));
        void session.post('Profiler.enable').then(() => session.post('Profiler.start'));
      });
    }
    // BENCH_MEMORY=1: the largest V8 heap and native figures seen, printed at exit (where the RSS goes).
    const peaks: Record<string, number> = {};
    if (process.env.BENCH_MEMORY) {
      setInterval(() => {
        for (const [name, bytes] of Object.entries(process.memoryUsage())) peaks[name] = Math.max(peaks[name] ?? 0, bytes);
      }, 200).unref();
    }
    process.once('SIGTERM', async () => {
      if (process.env.BENCH_MEMORY) {
        v8.setFlagsFromString('--expose_gc');
        (runInNewContext('gc') as () => void)();
        const live = process.memoryUsage();
        process.stderr.write(`memory peaks MiB: ${Object.entries(peaks).map(([name, bytes]) => `${name} ${(bytes / 2 ** 20).toFixed(0)}`).join(', ')}; after a full GC: heapUsed ${(live.heapUsed / 2 ** 20).toFixed(0)}, rss ${(live.rss / 2 ** 20).toFixed(0)}\n`);
      }
      if (session && profileDir) {
        const { profile } = await session.post('Profiler.stop').catch(() => ({ profile: null }));
        if (profile) fs.writeFileSync(path.join(profileDir, `twostep-login-${process.pid}.cpuprofile`), JSON.stringify(profile));
        if (process.env.BENCH_HEAP) {
          const heap = await session.post('HeapProfiler.stopSampling').catch(() => null);
          if (heap) fs.writeFileSync(path.join(profileDir, `twostep-login-${process.pid}.heapprofile`), JSON.stringify(heap.profile));
        }
      }
      await server.close();
      process.exit(0);
    });
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
