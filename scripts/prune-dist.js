#!/usr/bin/env node
// The build calls this after tsc: it removes dist/ files whose source is gone (a renamed or moved
// .ts file leaves its old .js behind, and Node would still resolve `./account` to a stale
// dist/…/account.js before the new account/index.js). dist/ is never emptied, so a process
// running from it while the build runs keeps its modules.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
let removed = 0;

function prune(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      prune(full);
      if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
      continue;
    }
    const match = /^(.*)\.js(\.map)?$/.exec(entry.name);
    if (!match) continue;
    const source = path.join(root, path.relative(dist, dir), `${match[1]}.ts`);
    if (!fs.existsSync(source)) {
      fs.rmSync(full);
      removed += 1;
    }
  }
}

for (const top of ['apps', 'libs', 'test']) {
  const dir = path.join(dist, top);
  if (fs.existsSync(dir)) prune(dir);
}
if (removed > 0) process.stderr.write(`removed ${removed} stale file(s) from dist/\n`);
