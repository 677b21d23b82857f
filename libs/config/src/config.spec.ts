import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, parseApiKeys, parseEnv } from './config';
import { loadSecrets } from './secrets';

describe('configuration is validated at start-up', () => {
  it('uses the documented defaults', () => {
    const env = parseEnv({});
    expect(env).toMatchObject({ PORT: 3000, TWOSTEP_DATA_DIR: './var', TWOSTEP_MODE: 'embedded', KAFKA_BROKERS: undefined, REDIS_URL: undefined, ESDB_URL: undefined });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['ESDB_URL', 'mysql://x'],
    ['SMTP_URL', 'localhost:25'],
    ['TWOSTEP_MODE', 'cluster'],
    ['LOG_LEVEL', 'loud'],
    ['TWOSTEP_BODY_LIMIT', 'abc'],
    ['TWOSTEP_BODY_LIMIT', '16 kilobytes'],
    ['TWOSTEP_BODY_LIMIT', '512b'],
    ['TWOSTEP_BODY_LIMIT', '2mb'],
    ['MAIL_MAX_IN_FLIGHT', '0'],
    ['MAIL_MAX_IN_FLIGHT', 'many'],
    ['MAIL_SMTP_POOL', '101'],
    ['KAFKA_TOPIC_PARTITIONS', '0'],
    ['KAFKA_TOPIC_PARTITIONS', '2.5'],
    ['TWOSTEP_OPS_KEY', 'short'],
    ['TWOSTEP_HEAP_GROWTH_PERCENT', '-1'],
    ['TWOSTEP_HEAP_GROWTH_PERCENT', '301'],
    ['TWOSTEP_HEAP_GROWTH_PERCENT', 'small'],
  ])('a bad %s (%s) stops start-up with a message naming it', (name, value) => {
    expect(() => parseEnv({ [name]: value })).toThrow(ConfigError);
    expect(() => parseEnv({ [name]: value })).toThrow(name);
  });

  it('TWOSTEP_BODY_LIMIT takes a size between 1kb and 1mb, 16kb by default', () => {
    expect(parseEnv({}).TWOSTEP_BODY_LIMIT).toBe('16kb');
    expect(parseEnv({ TWOSTEP_BODY_LIMIT: '' }).TWOSTEP_BODY_LIMIT).toBe('16kb');
    expect(parseEnv({ TWOSTEP_BODY_LIMIT: '64KB' }).TWOSTEP_BODY_LIMIT).toBe('64KB');
    expect(parseEnv({ TWOSTEP_BODY_LIMIT: '1mb' }).TWOSTEP_BODY_LIMIT).toBe('1mb');
    expect(parseEnv({ TWOSTEP_BODY_LIMIT: '1024b' }).TWOSTEP_BODY_LIMIT).toBe('1024b');
  });

  it('TWOSTEP_HEAP_GROWTH_PERCENT is 60 by default, 0 (V8 chooses) to 300', () => {
    expect(parseEnv({}).TWOSTEP_HEAP_GROWTH_PERCENT).toBe(60);
    expect(parseEnv({ TWOSTEP_HEAP_GROWTH_PERCENT: '' }).TWOSTEP_HEAP_GROWTH_PERCENT).toBe(60);
    expect(parseEnv({ TWOSTEP_HEAP_GROWTH_PERCENT: '0' }).TWOSTEP_HEAP_GROWTH_PERCENT).toBe(0);
    expect(parseEnv({ TWOSTEP_HEAP_GROWTH_PERCENT: '300' }).TWOSTEP_HEAP_GROWTH_PERCENT).toBe(300);
  });

  it('the delivery pipeline limits default to 64 sends in flight, 8 SMTP connections, 12 partitions', () => {
    expect(parseEnv({})).toMatchObject({ MAIL_MAX_IN_FLIGHT: 64, MAIL_SMTP_POOL: 8, KAFKA_TOPIC_PARTITIONS: 12 });
    expect(parseEnv({ MAIL_MAX_IN_FLIGHT: '', MAIL_SMTP_POOL: '2', KAFKA_TOPIC_PARTITIONS: '24' })).toMatchObject({ MAIL_MAX_IN_FLIGHT: 64, MAIL_SMTP_POOL: 2, KAFKA_TOPIC_PARTITIONS: 24 });
  });

  describe('secrets from files (NAME_FILE)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-config-files-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, content: string) => {
      const at = path.join(dir, name);
      fs.writeFileSync(at, content, { mode: 0o600 });
      return at;
    };

    it('reads the value from the file, dropping one trailing newline', () => {
      const hashKey = Buffer.alloc(32, 1).toString('base64');
      const env = parseEnv({ TWOSTEP_HASH_KEY_FILE: file('hash', `${hashKey}\n`), REDIS_URL_FILE: file('redis', 'redis://cache:6379\r\n') });
      expect(env.TWOSTEP_HASH_KEY).toBe(hashKey);
      expect(env.REDIS_URL).toBe('redis://cache:6379');
    });

    it('validates what the file holds like the variable itself', () => {
      expect(() => parseEnv({ REDIS_URL_FILE: file('bad-redis', 'http://cache') })).toThrow(/^[\s\S]*REDIS_URL: must start with redis:\/\//);
    });

    it('refuses a missing or empty file, or both forms at once, naming the variable and never the value', () => {
      const problems = (source: NodeJS.ProcessEnv) => {
        try {
          parseEnv(source);
        } catch (error) {
          return (error as ConfigError).problems;
        }
        return [];
      };
      expect(problems({ TWOSTEP_SECRET_KEYS_FILE: path.join(dir, 'absent') })).toEqual([`TWOSTEP_SECRET_KEYS_FILE: cannot read ${path.join(dir, 'absent')} (ENOENT)`]);
      expect(problems({ TWOSTEP_SECRET_KEYS_FILE: file('empty', '\n') })).toEqual([`TWOSTEP_SECRET_KEYS_FILE: ${path.join(dir, 'empty')} is empty`]);
      const both = problems({ TWOSTEP_HASH_KEY: 'secret-in-env-value', TWOSTEP_HASH_KEY_FILE: file('hash2', 'x') });
      expect(both).toEqual(['TWOSTEP_HASH_KEY_FILE: set either TWOSTEP_HASH_KEY or TWOSTEP_HASH_KEY_FILE, not both']);
    });
  });

  it('splits KAFKA_BROKERS', () => {
    expect(parseEnv({ KAFKA_BROKERS: 'a:1, b:2' }).KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
  });

  it('API keys must be a JSON array of {key, role, tenants} with unique, long keys', () => {
    const good = [{ key: 'k'.repeat(24), role: 'portal', tenants: ['store-1'] }];
    expect(parseApiKeys(JSON.stringify(good))[0]).toMatchObject({ role: 'portal', id: 'portal-1' });
    expect(() => parseApiKeys('not json')).toThrow('TWOSTEP_API_KEYS');
    expect(() => parseApiKeys(JSON.stringify([{ key: 'short', role: 'portal', tenants: ['*'] }]))).toThrow('24');
    expect(() => parseApiKeys(JSON.stringify([{ key: 'k'.repeat(24), role: 'root', tenants: ['*'] }]))).toThrow(ConfigError);
    expect(() => parseApiKeys(JSON.stringify([...good, ...good]))).toThrow('unique');
  });
});

describe('key material', () => {
  const dataDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-config-'));

  it('embedded start generates one key per role once, owner-only, and reuses them', () => {
    const dir = dataDir();
    const first = loadSecrets(parseEnv({ TWOSTEP_DATA_DIR: dir }), { generateMissing: true, needsOpener: true });
    expect(first.generatedApiKeys).toBe(true);
    expect(first.apiKeys.map((key) => key.role).sort()).toEqual(['admin', 'auditor', 'operator', 'portal']);
    const file = path.join(dir, 'keys.json');
    expect(fs.existsSync(file)).toBe(false); // written only once the start goes on (persist)
    first.persist();
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const second = loadSecrets(parseEnv({ TWOSTEP_DATA_DIR: dir }), { generateMissing: true, needsOpener: true });
    expect(second.generatedApiKeys).toBe(false);
    expect(second.apiKeys).toEqual(first.apiKeys);
    // The same keys decrypt what the first start encrypted.
    const box = first.secretBox.encrypt('JBSWY3DPEHPK3PXP', 'store-1/alice');
    expect(second.secretBox.decrypt(box, 'store-1/alice')).toBe('JBSWY3DPEHPK3PXP');
    expect(second.opener!.open(first.sealer.seal('a@b.c'))).toBe('a@b.c');
  });

  it('a process that may not generate keys refuses to start without them, naming each', () => {
    const attempt = () => loadSecrets(parseEnv({ TWOSTEP_DATA_DIR: dataDir() }), { generateMissing: false, needsOpener: true });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/TWOSTEP_API_KEYS[\s\S]*TWOSTEP_SECRET_KEYS[\s\S]*TWOSTEP_HASH_KEY[\s\S]*TWOSTEP_MAIL_PUBLIC_KEY[\s\S]*TWOSTEP_MAIL_PRIVATE_KEY/);
  });

  it('bad key material is refused without echoing it', () => {
    const env = parseEnv({ TWOSTEP_DATA_DIR: dataDir(), TWOSTEP_SECRET_KEYS: 'k1:dG9vLXNob3J0' });
    let message = '';
    try {
      loadSecrets(env, { generateMissing: true, needsOpener: false });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/key material/);
    expect(message).not.toContain('dG9vLXNob3J0');
  });
});
