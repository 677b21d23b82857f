import * as fs from 'node:fs';
import * as path from 'node:path';

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
});
