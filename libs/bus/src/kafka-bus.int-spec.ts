import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import type { StoredEvent } from '@twostep/eventstore';
import { HEADER_EVENT_ID, HEADER_EVENT_TYPE, waitForKafka } from './kafka';
import { KafkaEventConsumer } from './kafka-event-consumer';
import { HEADER_ATTEMPTS, HEADER_ERROR_MESSAGE, HEADER_ERROR_NAME, HEADER_FAILED_AT, KafkaDeadLetterPublisher, KafkaEventPublisher } from './kafka-publishers';
import type { BusLogger } from './ports';
import { busContract, busEvent, waitFor } from './testing/bus.contract';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',').map((b) => b.trim());
const RUN = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
let counter = 0;
const names = () => {
  const n = ++counter;
  return { topic: `twostep-test.${RUN}.${n}`, groupId: `twostep-test-${RUN}-${n}` };
};

/** Warnings and errors from the code under test; a test fails if kafkajs complained unexpectedly. */
const logged: { level: string; msg?: string; obj: object }[] = [];
const logger: BusLogger = {
  warn: (obj, msg) => void logged.push({ level: 'warn', msg, obj }),
  error: (obj, msg) => void logged.push({ level: 'error', msg, obj }),
};
const quiet = { logger, retry: { initialDelayMs: 50, maxDelayMs: 500 }, onHandlerError: () => undefined };

const admin = new Kafka({ clientId: 'twostep-test-admin', brokers, logLevel: logLevel.NOTHING }).admin();
const topicsToDelete: string[] = [];

beforeAll(async () => {
  await waitForKafka(brokers, 20_000); // fails the suite (never skips it) when no broker answers
  await admin.connect();
}, 30_000);

afterAll(async () => {
  if (topicsToDelete.length > 0) await admin.deleteTopics({ topics: topicsToDelete }).catch(() => undefined);
  await admin.disconnect();
});

busContract('Kafka (KafkaEventPublisher + KafkaEventConsumer)', async () => {
  const { topic, groupId } = names();
  topicsToDelete.push(topic);
  const publisher = new KafkaEventPublisher({ brokers, topic, logger });
  const consumers: KafkaEventConsumer[] = [];
  return {
    publisher,
    consumer: () => {
      const consumer = new KafkaEventConsumer({ brokers, topic, groupId, ...quiet });
      consumers.push(consumer);
      return consumer;
    },
    async cleanup() {
      await Promise.all(consumers.map((c) => c.stop()));
      await publisher.close();
    },
  };
});

/** Reads a topic from the beginning with a plain kafkajs consumer until `count` messages arrived. */
async function readRaw(topic: string, count: number): Promise<(KafkaMessage & { partition: number })[]> {
  const kafka = new Kafka({ clientId: 'twostep-test-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `twostep-test-reader-${randomUUID()}`, maxWaitTimeInMs: 500 });
  const messages: (KafkaMessage & { partition: number })[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message, partition }) => void messages.push({ ...message, partition }) });
    await waitFor(() => messages.length >= count, 20_000, `${count} raw messages on ${topic}`);
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

const header = (message: KafkaMessage, name: string) => message.headers?.[name]?.toString();

describe('KafkaEventPublisher', () => {
  beforeEach(() => void logged.splice(0));
  afterEach(() => expect(logged).toEqual([]));

  it('creates the topic with 12 partitions (the default), keys by stream, and sends the event as JSON with event-id and event-type headers', async () => {
    const { topic } = names();
    topicsToDelete.push(topic);
    const publisher = new KafkaEventPublisher({ brokers, topic, logger });
    const streams = ['TwoFactorAccount-shop|a', 'TwoFactorAccount-shop|b', 'TwoFactorAccount-shop|c', 'TwoFactorPolicy-shop'];
    const events = streams.flatMap((s) => [0, 1, 2].map((r) => busEvent(s, r)));
    await publisher.publish(events);
    await publisher.close();

    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]!.partitions).toHaveLength(12);

    const raw = await readRaw(topic, events.length);
    expect(raw).toHaveLength(events.length);
    for (const message of raw) {
      const event = JSON.parse(message.value!.toString()) as StoredEvent;
      const original = events.find((e) => e.eventId === event.eventId)!;
      expect(event).toEqual(original);
      expect(message.key!.toString()).toBe(original.stream);
      expect(header(message, HEADER_EVENT_ID)).toBe(original.eventId);
      expect(header(message, HEADER_EVENT_TYPE)).toBe(original.type);
    }
    for (const s of streams) {
      const ofStream = raw.filter((m) => m.key!.toString() === s);
      expect(new Set(ofStream.map((m) => m.partition)).size).toBe(1); // one partition per stream
      expect(ofStream.map((m) => (JSON.parse(m.value!.toString()) as StoredEvent).revision)).toEqual([0, 1, 2]);
    }
  }, 60_000);

  it('uses an existing topic as it is, and refuses to publish after close()', async () => {
    const { topic } = names();
    topicsToDelete.push(topic);
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    const publisher = new KafkaEventPublisher({ brokers, topic, logger });
    await publisher.publish([busEvent('TwoFactorAccount-t|u', 0)]);
    await publisher.close();
    await expect(publisher.publish([busEvent('TwoFactorAccount-t|u', 1)])).rejects.toThrow(/closed/);
    expect((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions).toHaveLength(1);
    expect(await admin.fetchTopicOffsets(topic)).toEqual([expect.objectContaining({ partition: 0, high: '1' })]);
  }, 60_000);
});

describe('KafkaEventConsumer', () => {
  beforeEach(() => void logged.splice(0));

  it('refuses to start twice, and reports failed attempts with the decoded event', async () => {
    const { topic, groupId } = names();
    topicsToDelete.push(topic);
    const failures: [string | undefined, number][] = [];
    const consumer = new KafkaEventConsumer({
      brokers,
      topic,
      groupId,
      logger,
      retry: { initialDelayMs: 20, maxDelayMs: 40 },
      onHandlerError: (_error, event, attempt) => failures.push([event?.eventId, attempt]),
    });
    let n = 0;
    await consumer.start(async () => {
      if (++n <= 2) throw new Error('boom');
    });
    await expect(consumer.start(async () => undefined)).rejects.toThrow(/already started/);
    const publisher = new KafkaEventPublisher({ brokers, topic, logger });
    const event = busEvent('TwoFactorAccount-t|u', 0);
    await publisher.publish([event]);
    await waitFor(() => n === 3, 30_000, 'third attempt');
    await Promise.all([consumer.stop(), consumer.stop()]); // a second stop() waits for the same shutdown
    await consumer.stop();
    await publisher.close();
    expect(failures).toEqual([
      [event.eventId, 1],
      [event.eventId, 2],
    ]);
    expect(logged).toEqual([]);
  }, 60_000);

  it('logs a failed attempt as a warning when no onHandlerError is given', async () => {
    const { topic, groupId } = names();
    topicsToDelete.push(topic);
    const consumer = new KafkaEventConsumer({ brokers, topic, groupId, logger, retry: { initialDelayMs: 20 } });
    let n = 0;
    await consumer.start(async () => {
      if (++n === 1) throw new Error('smtp down');
    });
    const publisher = new KafkaEventPublisher({ brokers, topic, logger });
    const event = busEvent('TwoFactorAccount-t|u', 0);
    await publisher.publish([event]);
    await waitFor(() => n === 2, 30_000, 'second attempt');
    await consumer.stop();
    await publisher.close();
    expect(logged).toEqual([
      {
        level: 'warn',
        msg: 'event handler failed; retrying the same message',
        obj: expect.objectContaining({ topic, groupId, eventId: event.eventId, attempt: 1, error: { name: 'Error', message: 'smtp down' } }),
      },
    ]);
  }, 60_000);

  it('a second member joining the group (a rebalance) loses no event', async () => {
    const { topic, groupId } = names();
    topicsToDelete.push(topic);
    const publisher = new KafkaEventPublisher({ brokers, topic, logger });
    const handledBy = new Map<string, string[]>();
    const make = (label: string) => {
      const consumer = new KafkaEventConsumer({ brokers, topic, groupId, ...quiet, logger: { warn: () => undefined, error: logger.error } });
      return { consumer, start: () => consumer.start(async (e) => void handledBy.set(e.eventId, [...(handledBy.get(e.eventId) ?? []), label])) };
    };
    const one = make('one');
    const two = make('two');
    await one.start();
    await two.start();
    const events = Array.from({ length: 30 }, (_, i) => busEvent(`TwoFactorAccount-t|user-${i % 10}`, Math.floor(i / 10)));
    await publisher.publish(events);
    await waitFor(() => events.every((e) => handledBy.has(e.eventId)), 45_000, 'every event handled');
    await Promise.all([one.consumer.stop(), two.consumer.stop()]);
    await publisher.close();
    // At least once; a rebalance while the second member joins may repeat an event, never lose one.
    expect(events.every((e) => (handledBy.get(e.eventId) ?? []).length >= 1)).toBe(true);
    expect(logged.filter((l) => l.level === 'error')).toEqual([]);
  }, 90_000);
});

/** A new member of the group gets only an event published now: everything before it was committed. */
async function expectOnlyNewFor(topic: string, groupId: string, publisher: KafkaEventPublisher, stream: string): Promise<void> {
  const again: string[] = [];
  const next = new KafkaEventConsumer({ brokers, topic, groupId, ...quiet });
  await next.start(async (event) => void again.push(event.eventId));
  const fresh = busEvent(stream, 0);
  await publisher.publish([fresh]);
  await waitFor(() => again.length >= 1, 30_000, 'the fresh event');
  await new Promise((resolve) => setTimeout(resolve, 500));
  await next.stop();
  expect(again).toEqual([fresh.eventId]);
}

describe('KafkaEventConsumer in batches', () => {
  beforeEach(() => void logged.splice(0));

  it('hands over only the wanted types (by header, unparsed), and commits the others with them', async () => {
    const { topic, groupId } = names();
    topicsToDelete.push(topic);
    const publisher = new KafkaEventPublisher({ brokers, topic, logger, partitions: 2 });
    const login = (stream: string, revision: number) => ({ ...busEvent(stream, revision), type: 'ChallengePassed' });
    const events = [login('TwoFactorAccount-t|a', 0), busEvent('TwoFactorAccount-t|a', 1), login('TwoFactorAccount-t|b', 0), busEvent('TwoFactorAccount-t|b', 1)];
    await publisher.publish(events);
    // A message that is not even JSON, behind a type the consumer does not want: it must never be parsed.
    const raw = new Kafka({ clientId: 'twostep-test-raw', brokers, logLevel: logLevel.NOTHING }).producer();
    await raw.connect();
    await raw.send({ topic, messages: [{ key: 'TwoFactorAccount-t|a', value: '{not json', headers: { [HEADER_EVENT_TYPE]: 'AttemptFailed' } }] });
    await raw.disconnect();

    const handled: string[] = [];
    const failures: unknown[] = [];
    const first = new KafkaEventConsumer({ brokers, topic, groupId, ...quiet, types: ['CodeIssued'], onHandlerError: (error) => failures.push(error) });
    await first.start(async (event) => void handled.push(event.eventId));
    await waitFor(() => handled.length === 2, 30_000, 'the two CodeIssued events');
    await first.stop();
    expect(handled.sort()).toEqual([events[1]!.eventId, events[3]!.eventId].sort());
    expect(failures).toEqual([]);

    // Everything was committed, the skipped messages too: a new member of the group gets nothing old.
    await expectOnlyNewFor(topic, groupId, publisher, 'TwoFactorAccount-t|c');
    await publisher.close();
  }, 90_000);

  it('handles different accounts side by side, each account strictly in order, within maxInFlight', async () => {
    const { topic, groupId } = names();
    topicsToDelete.push(topic);
    const publisher = new KafkaEventPublisher({ brokers, topic, logger, partitions: 1 });
    const accounts = 8;
    const perAccount = 5;
    const events = Array.from({ length: accounts * perAccount }, (_, i) => busEvent(`TwoFactorAccount-t|user-${i % accounts}`, Math.floor(i / accounts)));
    let running = 0;
    let peak = 0;
    const order = new Map<string, number[]>();
    const consumer = new KafkaEventConsumer({ brokers, topic, groupId, ...quiet, maxInFlight: 4 });
    // Published before the consumer starts, so they arrive as one batch of one partition.
    await publisher.publish(events);
    await consumer.start(async (event) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5 + (event.revision % 2) * 10));
      order.set(event.stream, [...(order.get(event.stream) ?? []), event.revision]);
      running--;
    });
    await waitFor(() => [...order.values()].reduce((n, revisions) => n + revisions.length, 0) >= events.length, 30_000, 'every event');
    await consumer.stop();
    await publisher.close();
    expect(order.size).toBe(accounts);
    for (const revisions of order.values()) expect(revisions).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBeGreaterThan(1); // accounts in parallel
    expect(peak).toBeLessThanOrEqual(4); // never more than maxInFlight
  }, 60_000);

  it('fetches on while a handler runs: a slow account holds back only its own later messages, and what finished is committed', async () => {
    const { topic, groupId } = names();
    topicsToDelete.push(topic);
    const publisher = new KafkaEventPublisher({ brokers, topic, logger, partitions: 1 });
    const slow = busEvent('TwoFactorAccount-t|slow', 0);
    const slowNext = busEvent('TwoFactorAccount-t|slow', 1);
    const other = busEvent('TwoFactorAccount-t|other', 0);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    let slowStarted = false;
    const consumer = new KafkaEventConsumer({ brokers, topic, groupId, ...quiet });
    await consumer.start(async (event) => {
      if (event.eventId === slow.eventId) {
        slowStarted = true;
        await gate; // an SMTP exchange that takes its time
      }
      handled.push(event.eventId);
    });
    await publisher.publish([slow]);
    await waitFor(() => slowStarted, 30_000, 'the slow handler to start');
    // Published while the slow one runs: a later batch of the same partition.
    await publisher.publish([other, slowNext]);
    await waitFor(() => handled.includes(other.eventId), 30_000, "the other account's event, while the slow one still runs");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handled).toEqual([other.eventId]); // the slow account's next event waits for the one before it
    release();
    await waitFor(() => handled.length === 3, 30_000, 'the rest');
    expect(handled).toEqual([other.eventId, slow.eventId, slowNext.eventId]);
    await consumer.stop();

    // Everything finished was committed: the group's next member gets only what is new.
    await expectOnlyNewFor(topic, groupId, publisher, 'TwoFactorAccount-t|fresh');
    await publisher.close();
  }, 90_000);

  it('stops taking messages at maxQueued unfinished ones, and goes on, in order, as they finish', async () => {
    const { topic, groupId } = names();
    topicsToDelete.push(topic);
    const publisher = new KafkaEventPublisher({ brokers, topic, logger, partitions: 1 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const handled: string[] = [];
    // One account: its messages run one at a time, so all but the first wait, queued.
    const consumer = new KafkaEventConsumer({ brokers, topic, groupId, ...quiet, maxInFlight: 2, maxQueued: 3 });
    await consumer.start(async (event) => {
      started++;
      await gate;
      handled.push(event.eventId);
    });
    const events = Array.from({ length: 10 }, (_, i) => busEvent('TwoFactorAccount-t|queue', i));
    let peakQueued = 0;
    const sample = setInterval(() => (peakQueued = Math.max(peakQueued, consumer.queuedMessages)), 5);
    for (const event of events) await publisher.publish([event]); // one at a time: small batches
    await waitFor(() => started === 1, 30_000, 'the first handler');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    clearInterval(sample);
    // It took some (maxQueued, plus what the last batch held), not all ten, while none could finish.
    expect(peakQueued).toBeGreaterThanOrEqual(3);
    expect(peakQueued).toBeLessThan(events.length);
    release();
    await waitFor(() => handled.length === events.length, 30_000, 'every event, in order');
    await consumer.stop();
    await publisher.close();
    expect(handled).toEqual(events.map((e) => e.eventId));
  }, 90_000);

  it('commits a batch only up to the first message whose handler has not succeeded', async () => {
    const { topic, groupId } = names();
    topicsToDelete.push(topic);
    const publisher = new KafkaEventPublisher({ brokers, topic, logger, partitions: 1 });
    const stuck = busEvent('TwoFactorAccount-t|stuck', 0);
    const others = Array.from({ length: 4 }, (_, i) => busEvent(`TwoFactorAccount-t|ok-${i}`, 0));
    await publisher.publish([others[0]!, stuck, ...others.slice(1)]);
    const handled: string[] = [];
    const first = new KafkaEventConsumer({ brokers, topic, groupId, ...quiet });
    await first.start(async (event) => {
      if (event.eventId === stuck.eventId) throw new Error('smtp down');
      handled.push(event.eventId);
    });
    // The other accounts are not held up by the stuck one...
    await waitFor(() => handled.length === 4, 30_000, 'the four other events');
    await first.stop();
    // ...but the commit stops before it: the next member gets the stuck event and what follows it.
    const redelivered: string[] = [];
    const second = new KafkaEventConsumer({ brokers, topic, groupId, ...quiet });
    await second.start(async (event) => void redelivered.push(event.eventId));
    await waitFor(() => redelivered.length >= 4, 30_000, 'redelivery from the stuck event on');
    await second.stop();
    await publisher.close();
    expect(redelivered).toEqual([stuck, ...others.slice(1)].map((e) => e.eventId));
  }, 90_000);
});

describe('KafkaDeadLetterPublisher', () => {
  beforeEach(() => void logged.splice(0));

  it('writes the event unchanged, with why it failed in headers, to its own topic', async () => {
    const { topic } = names();
    topicsToDelete.push(topic);
    const dlq = new KafkaDeadLetterPublisher({ brokers, topic, logger });
    const event = busEvent('TwoFactorAccount-shop|a', 4);
    await dlq.publish(event, new TypeError(`SMTP said no ${'!'.repeat(2000)}`), 7);
    await dlq.close();

    const [message, ...rest] = await readRaw(topic, 1);
    expect(rest).toEqual([]);
    expect(JSON.parse(message!.value!.toString())).toEqual(event);
    expect(message!.key!.toString()).toBe(event.stream);
    expect(header(message!, HEADER_EVENT_ID)).toBe(event.eventId);
    expect(header(message!, HEADER_EVENT_TYPE)).toBe('CodeIssued');
    expect(header(message!, HEADER_ERROR_NAME)).toBe('TypeError');
    expect(header(message!, HEADER_ERROR_MESSAGE)).toMatch(/^SMTP said no !+$/);
    expect(header(message!, HEADER_ERROR_MESSAGE)).toHaveLength(1000);
    expect(header(message!, HEADER_ATTEMPTS)).toBe('7');
    expect(Date.now() - Date.parse(header(message!, HEADER_FAILED_AT)!)).toBeLessThan(60_000);
    expect(logged).toEqual([]);
  }, 60_000);
});

describe('waitForKafka', () => {
  it('resolves when a broker answers', async () => {
    await waitForKafka(brokers, 10_000);
  });

  it('rejects with the brokers and the cause once the timeout has passed', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const started = Date.now();
    await expect(waitForKafka([`127.0.0.1:${port}`], 1500)).rejects.toThrow(new RegExp(`Kafka is not reachable at 127\\.0\\.0\\.1:${port} after 1500 ms: .+`));
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(5000);
  });

  it('gives up on a listener that never answers', async () => {
    const silent = net.createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const started = Date.now();
      await expect(waitForKafka([`127.0.0.1:${port}`], 1500)).rejects.toThrow(/Kafka is not reachable/);
      expect(Date.now() - started).toBeLessThan(6000);
    } finally {
      silent.close();
    }
  }, 15_000);
});
