import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createTransport, type Transporter } from 'nodemailer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';

export interface OutgoingMail {
  /** `Name <address>` as configured, or a name and address for nodemailer to quote. */
  from: string | { name: string; address: string };
  to: string;
  subject: string;
  text: string;
  html: string;
  headers?: Record<string, string>;
  /**
   * Optional stable Message-ID (`<local@domain>`). The mailer derives it from the event id, so
   * a message sent again after a crash carries the same id and receiving systems can fold it.
   */
  messageId?: string;
}

/** Where mail goes: SMTP in production, `.eml` files in the data directory when no server is configured. */
export interface MailTransport {
  /** Resolves once the message is accepted (by the server, or durably on disk); rejects otherwise. */
  send(message: OutgoingMail): Promise<{ messageId: string }>;
  close(): Promise<void>;
}


/** Timeouts so a stalled server fails the attempt instead of holding the consumer forever. URL query values win. */
const SMTP_DEFAULTS: Record<string, string> = {
  connectionTimeout: '10000',
  greetingTimeout: '10000',
  socketTimeout: '30000',
};

/** Pool settings; the URL's query (`?maxConnections=`, `?pool=false`) wins. */
export interface SmtpPoolOptions {
  /** Connections kept open at once (default 8). */
  maxConnections?: number;
}

type NodemailerSmtpOptions = Record<string, unknown> & { host?: string; port?: number; secure?: boolean };

function smtpOptions(smtpUrl: string, pool: SmtpPoolOptions): NodemailerSmtpOptions {
  let url: URL;
  try {
    url = new URL(smtpUrl);
  } catch {
    // Never echo the value: it may hold a password.
    throw new Error('SMTP_URL: not a valid URL');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error('SMTP_URL: must start with smtp:// or smtps://');
  // maxMessages: no limit. A pooled connection is only replaced when it closes (server limit, idle
  // timeout, error): every replacement makes the mail that waits for it pay the server's greeting,
  // 100 ms or more where the server pauses to catch early talkers, and that mail holds its batch.
  const defaults: Record<string, string> = { ...SMTP_DEFAULTS, pool: 'true', maxConnections: String(pool.maxConnections ?? 8), maxMessages: 'Infinity' };
  for (const [key, value] of Object.entries(defaults)) {
    if (!url.searchParams.has(key)) url.searchParams.set(key, value);
  }
  // nodemailer's own URL parser (numbers and booleans in the query become options).
  return parseConnectionUrl(url.toString()) as NodemailerSmtpOptions;
}

/**
 * Opens the TCP connection for nodemailer with Nagle's algorithm off. Without it, the small
 * end-of-data line (`.`) of each message waits for the server's delayed ACK of the body: ~40 ms
 * per message on Linux, which caps one connection at ~25 emails/s. TLS (smtps, STARTTLS) is then
 * set up by nodemailer on this socket as usual.
 */
function noDelaySocket(options: NodemailerSmtpOptions, callback: (error: Error | null, socketOptions?: { connection: net.Socket }) => void): void {
  const port = Number(options.port) || (options.secure ? 465 : 25);
  const timeoutMs = Number(options.connectionTimeout) || Number(SMTP_DEFAULTS.connectionTimeout);
  const socket = net.connect({ host: String(options.host ?? 'localhost'), port, noDelay: true });
  const fail = (error: Error) => {
    socket.destroy();
    callback(error);
  };
  const timer = setTimeout(() => fail(Object.assign(new Error('SMTP connection timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
  socket.once('error', (error) => {
    clearTimeout(timer);
    callback(error);
  });
  socket.once('connect', () => {
    clearTimeout(timer);
    socket.removeAllListeners('error'); // nodemailer attaches its own handler
    socket.setKeepAlive(true);
    callback(null, { connection: socket });
  });
}

/**
 * Sends through an SMTP server with nodemailer, over a pool of connections (default 8, each kept
 * for as long as the server keeps it open) with Nagle off. `send` may be called concurrently: the pool
 * queues what it cannot send at once. `send` rejects when the server refuses the sender, the
 * recipient or the data.
 */
export class SmtpMailTransport implements MailTransport {
  private readonly transporter: Transporter;

  constructor(smtpUrl: string, pool: SmtpPoolOptions = {}) {
    this.transporter = createTransport({ ...smtpOptions(smtpUrl, pool), getSocket: noDelaySocket });
  }

  async send(message: OutgoingMail): Promise<{ messageId: string }> {
    const info = await this.transporter.sendMail(toNodemailer(message));
    const rejected = Array.isArray(info.rejected) ? info.rejected : [];
    if (rejected.length > 0) {
      // Do not name the address: error messages end up in logs and dead letters.
      throw new Error(`SMTP server rejected ${rejected.length} recipient(s)`);
    }
    return { messageId: info.messageId };
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}

/**
 * Writes each message as an RFC 822 `.eml` file under `dir`, for the embedded runtime with no
 * SMTP server. The file is written under a temporary name, synced and renamed, so a reader
 * listing `*.eml` never sees half a message. Files are readable by the owner only: they hold codes.
 */
export class FileMailTransport implements MailTransport {
  private readonly builder: Transporter;

  constructor(readonly dir: string) {
    this.builder = createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  }

  async send(message: OutgoingMail): Promise<{ messageId: string }> {
    const info = (await this.builder.sendMail(toNodemailer(message))) as { messageId: string; message: Buffer };
    await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = `${fileTimestamp(new Date())}-${safeName(info.messageId)}.eml`;
    const finalPath = path.join(this.dir, name);
    const tempPath = path.join(this.dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await fs.promises.open(tempPath, 'wx', 0o600);
    try {
      await handle.writeFile(info.message);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await fs.promises.rm(tempPath, { force: true });
      throw error;
    }
    await handle.close();
    await fs.promises.rename(tempPath, finalPath);
    await syncDir(this.dir);
    return { messageId: info.messageId };
  }

  async close(): Promise<void> {
    this.builder.close();
  }
}

/** SMTP when a URL is configured, otherwise `.eml` files under `<dataDir>/mail`. */
export function createMailTransport(smtpUrl: string | undefined, dataDir: string, pool: SmtpPoolOptions = {}): MailTransport {
  return smtpUrl ? new SmtpMailTransport(smtpUrl, pool) : new FileMailTransport(path.join(dataDir, 'mail'));
}

/**
 * `textEncoding`: the parts are always quoted-printable. Left to itself, nodemailer picks QP or
 * base64 per part by counting Latin against other characters with two regex scans of each body
 * (the largest single cost of a send in the mailer's profile); our bodies are mostly Latin text,
 * which it would encode as QP anyway.
 */
function toNodemailer(message: OutgoingMail) {
  return {
    textEncoding: 'quoted-printable' as const,
    from: message.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    headers: message.headers,
    ...(message.messageId ? { messageId: message.messageId } : {}),
  };
}

/** Makes the rename durable where the platform allows syncing a directory (not Windows). */
async function syncDir(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort: the file itself is already synced.
  } finally {
    await handle?.close();
  }
}

/** `20250301T140512345Z`: sorts in time order and is safe in every file system. */
function fileTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

function safeName(messageId: string): string {
  const cleaned = messageId.replace(/^<|>$/g, '').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
  return cleaned || randomBytes(8).toString('hex');
}
