import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENV_VARIABLES, FILE_VARIABLES } from '@twostep/config';

const ROOT = path.resolve(__dirname, '..');

/** What `docker compose up` exposes: only this host can reach the services and the api it publishes. */
describe('deployment files', () => {
  it('docker-compose publishes every port on 127.0.0.1 only', () => {
    const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    const published = [...compose.matchAll(/^\s+- "([^"]+:\d+)"/gm)].map((match) => match[1]!);
    expect(published.length).toBeGreaterThanOrEqual(6); // eventstore, kafka, redis, mailpit (2), api
    for (const mapping of published) expect(mapping).toMatch(/^127\.0\.0\.1:/);
  });

  it('the image listens on all interfaces inside its container, since the default HOST is 127.0.0.1', () => {
    expect(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/HOST=0\.0\.0\.0/);
  });

  it('.env.example documents every variable start-up reads, and the _FILE form of the secrets', () => {
    const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    const documented = new Set([...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]!));
    expect(ENV_VARIABLES.filter((name) => !documented.has(name))).toEqual([]);
    for (const name of FILE_VARIABLES) expect(example).toContain(name);
    expect(example).toContain('_FILE');
  });
});
