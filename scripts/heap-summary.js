#!/usr/bin/env node
// Summarises a V8 sampling heap profile (.heapprofile, e.g. the login benchmark's BENCH_HEAP):
// sampled bytes by allocating function and by owner (package, file of this repository, or
// node/V8), and, with STACK, by the nearest frame of this repository's code on the stack.
// Usage: node scripts/heap-summary.js FILE [TOP]
'use strict';
const fs = require('node:fs');
const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/heap-summary.js FILE.heapprofile [TOP]');
  process.exit(2);
}
const top = Number(topArg ?? 20);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));

function owner(frame) {
  const url = frame.url || '';
  if (!url) return '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url;
  const repo = /\/dist(?:-[^/]+)?\/(.+)$/.exec(url);
  return repo ? repo[1] : url;
}
const isOwn = (frame) => /\/dist(?:-[^/]+)?\/(apps|libs)\//.test(frame.url || '');
const label = (frame) => `${frame.functionName || '(anonymous)'} ${owner(frame)}:${frame.lineNumber + 1}`;

const bySelf = new Map();
const byOwner = new Map();
const byOwn = new Map();
let total = 0;
function walk(node, ownFrame) {
  const frame = node.callFrame;
  const own = isOwn(frame) ? label(frame) : ownFrame;
  const bytes = node.selfSize;
  if (bytes > 0) {
    total += bytes;
    const name = label(frame);
    bySelf.set(name, (bySelf.get(name) ?? 0) + bytes);
    byOwner.set(owner(frame), (byOwner.get(owner(frame)) ?? 0) + bytes);
    const ownName = own ?? '(no frame of ours)';
    byOwn.set(ownName, (byOwn.get(ownName) ?? 0) + bytes);
  }
  for (const child of node.children) walk(child, own);
}
walk(profile.head, null);

const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * bytes) / total).toFixed(1).padStart(5)} %  ${(bytes / 2 ** 20).toFixed(1).padStart(7)} MiB  ${name}`);
  }
};
console.log(`${(total / 2 ** 20).toFixed(1)} MiB sampled`);
print('by owner', byOwner);
print('by allocating function', bySelf);
print('by nearest frame of our code', byOwn);
