#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof): self time by owner (package, or file of this
// repository, or V8/node internals) and by function. Usage: node scripts/profile-summary.js FILE [TOP]
'use strict';
const fs = require('node:fs');
const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/profile-summary.js FILE.cpuprofile [TOP]');
  process.exit(2);
}
const top = Number(topArg ?? 15);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
const deltas = profile.timeDeltas;
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

function owner(frame) {
  const url = frame.url || '';
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url;
  const repo = /\/dist\/(.+)$/.exec(url);
  return repo ? repo[1] : url;
}
const owners = new Map();
const functions = new Map();
for (const [id, us] of self) {
  const frame = byId.get(id).callFrame;
  const o = owner(frame);
  owners.set(o, (owners.get(o) ?? 0) + us);
  const f = `${frame.functionName || '(anonymous)'}  ${o}:${frame.lineNumber + 1}`;
  functions.set(f, (functions.get(f) ?? 0) + us);
}
const print = (title, map) => {
  console.log(title);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
  }
};
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
print('self time by owner:', owners);
print('self time by function:', functions);
