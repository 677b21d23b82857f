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
import type { Clock } from '@twostep/app';
import { parseEnv } from '@twostep/config';
import { startApi } from '../../../apps/api/src/server';

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
      process.once('SIGUSR2', () => void session.post('Profiler.enable').then(() => session.post('Profiler.start')));
    }
    process.once('SIGTERM', async () => {
      if (session && profileDir) {
        const { profile } = await session.post('Profiler.stop').catch(() => ({ profile: null }));
        if (profile) fs.writeFileSync(path.join(profileDir, `twostep-login-${process.pid}.cpuprofile`), JSON.stringify(profile));
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
