#!/usr/bin/env node
// `npm start` runs this first: it builds dist/ only when a source (apps/, libs/, test/bench/, the
// tsconfigs, the lock file) is newer than the last build, so a restart takes seconds.
// `--stamp` only records that dist/ was just built (the build script calls it).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const stamp = path.join(root, 'dist', '.build-stamp');

if (process.argv.includes('--stamp')) {
  fs.mkdirSync(path.dirname(stamp), { recursive: true });
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
  process.exit(0);
}

function newest(entry) {
  const stat = fs.statSync(entry, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return /\.(ts|json)$/.test(entry) ? stat.mtimeMs : 0;
  let latest = stat.mtimeMs; // a deleted file shows as a newer directory
  for (const name of fs.readdirSync(entry)) if (name !== 'node_modules') latest = Math.max(latest, newest(path.join(entry, name)));
  return latest;
}

const sources = ['apps', 'libs', 'test/bench', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((name) => path.join(root, name));
const built = fs.statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
if (built > 0 && Math.max(...sources.map(newest)) <= built) {
  process.stderr.write('dist/ is up to date\n');
  process.exit(0);
}
process.stderr.write(built === 0 ? 'building dist/ (first start)\n' : 'sources changed since the last build: building dist/\n');
const result = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
