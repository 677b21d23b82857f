#!/usr/bin/env node
// `npm start`: the api on its embedded defaults, then, once it answers, the reference web app
// (apps/web, a process of its own that reaches the api over HTTP like any platform would) on
// TWOSTEP_WEB_PORT (default PORT + 1; `off` for none). Signals go to both; the api's exit ends
// the web app too and is this script's exit. A web app that cannot start is a warning: the api
// keeps running.
'use strict';
const path = require('node:path');
const { spawn } = require('node:child_process');

const dist = path.resolve(__dirname, '..', 'dist', 'apps');
const host = process.env.HOST || '127.0.0.1';
const port = process.env.PORT || '3000';
const probeHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const live = `http://${probeHost.includes(':') ? `[${probeHost}]` : probeHost}:${port}/health/live`;

const api = spawn(process.execPath, [path.join(dist, 'api/src/main.js')], { stdio: 'inherit' });
let web = null;
let stopping = false;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    web?.kill(signal);
    api.kill(signal);
  });
}

api.once('exit', (code, signal) => {
  web?.kill('SIGTERM');
  process.exit(code ?? (signal ? 0 : 1));
});

async function startWebWhenReady() {
  if (process.env.TWOSTEP_WEB_PORT === 'off' || port === '0') return;
  for (let waited = 0; waited < 60_000 && api.exitCode === null && !stopping; waited += 100) {
    const answered = await fetch(live).then((response) => response.ok, () => false);
    if (answered) {
      web = spawn(process.execPath, [path.join(dist, 'web/src/main.js')], { stdio: 'inherit' });
      web.once('exit', (code) => {
        if (code && !stopping) process.stderr.write(`twostep: the web app exited (${code}); the api keeps running\n`);
        web = null;
      });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

void startWebWhenReady();
