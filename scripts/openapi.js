#!/usr/bin/env node
// Writes openapi.json from the built contract (dist/): `npm run openapi`. A test fails when the
// committed file and the served /docs-json differ, so run this after changing a route.
const fs = require('node:fs');
const path = require('node:path');
const { apiDocument } = require(path.join(__dirname, '../dist/apps/api/src/operations.js'));
const file = path.join(__dirname, '../openapi.json');
fs.writeFileSync(file, `${JSON.stringify(apiDocument(), null, 2)}\n`);
process.stderr.write(`wrote ${path.relative(process.cwd(), file)}\n`);
// The client's types are generated from the same document (openapi-typescript).
const { execFileSync } = require('node:child_process');
const schema = path.join(__dirname, '../libs/client/src/schema.ts');
execFileSync(process.execPath, [path.join(__dirname, '../node_modules/openapi-typescript/bin/cli.js'), file, '-o', schema], { stdio: ['ignore', 'ignore', 'inherit'] });
