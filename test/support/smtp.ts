import type { AddressInfo } from 'node:net';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** One message as the SMTP server received it: the envelope and the parsed MIME message. */
export interface ReceivedMail {
  /** RCPT TO addresses, lower-cased. */
  envelopeTo: string[];
  /** Header To: addresses, lower-cased. */
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** `X-Twostep-Event-Id` header, when present. */
  eventId: string | null;
  parsed: ParsedMail;
  receivedAt: Date;
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>`, for the app's `SMTP_URL`. */
  url: string;
  port: number;
  /** Every message received so far, in arrival order. */
  readonly messages: ReceivedMail[];
  /** Resolves with the first received message matching `predicate`, polling until `timeoutMs`. */
  waitForMail(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

const addressesOf = (field: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(field) ? field : field ? [field] : []).flatMap((group) => group.value).flatMap((a) => (a.address ? [a.address.toLowerCase()] : []));

/** A real SMTP server (smtp-server) on an ephemeral port of 127.0.0.1, parsing every message with mailparser. */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const eventId = parsed.headers.get('x-twostep-event-id');
          messages.push({
            envelopeTo: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()),
            to: addressesOf(parsed.to),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            eventId: typeof eventId === 'string' ? eventId : null,
            parsed,
            receivedAt: new Date(),
          });
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  server.on('error', () => {
    // A client dropping the connection must not crash the test process.
  });
  await new Promise<void>((resolve, reject) => {
    const netServer = (server as unknown as { server: import('node:net').Server }).server;
    netServer.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      netServer.off('error', reject);
      resolve();
    });
  });
  const { port } = (server as unknown as { server: { address(): AddressInfo } }).server.address();

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    async waitForMail(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(predicate);
        if (found) return found;
        if (Date.now() >= deadline) {
          const seen = messages.map((m) => `${m.envelopeTo.join(',')}: ${m.subject}`).join('\n  ');
          throw new Error(`no matching mail within ${timeoutMs} ms; received ${messages.length}:\n  ${seen}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Messages addressed (envelope or header) to `address`. */
export const sentTo = (address: string) => (mail: ReceivedMail) =>
  mail.envelopeTo.includes(address.toLowerCase()) || mail.to.includes(address.toLowerCase());

/** The 6-digit verification code in a code email's text. */
export function codeFrom(mail: ReceivedMail): string {
  // The code stands on a line of its own; fall back to the first 6-digit run anywhere in the text.
  const match = /^\s*(\d{6})\s*$/m.exec(mail.text) ?? /(?:^|\D)(\d{6})(?!\d)/.exec(mail.text);
  if (!match) throw new Error(`no 6-digit code in mail "${mail.subject}"`);
  return match[1]!;
}
