/**
 * The SMTP server of `npm run bench:mail`, in a process of its own (as a real one would be), so
 * the load generator's garbage collection and HTTP work never delay an SMTP reply. It notes when
 * each recipient's message arrived, on the monotonic clock every process on the host shares
 * (process.hrtime), and its Message-ID (no MIME parsing: it stays cheap under load), and tells
 * the parent over IPC: first `{ port }`, then `{ rcpt, messageId, at }` per recipient.
 */
import { SMTPServer } from 'smtp-server';

const now = () => Number(process.hrtime.bigint()) / 1e6;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  disableReverseLookup: true,
  logger: false,
  onData(stream, session, callback) {
    let messageId: string | null = null;
    stream.on('data', (chunk: Buffer) => {
      messageId ??= /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(chunk.toString('latin1'))?.[1] ?? null;
    });
    stream.on('end', () => {
      const at = now();
      for (const rcpt of session.envelope.rcptTo) process.send!({ rcpt: rcpt.address.toLowerCase(), messageId, at });
      callback();
    });
  },
});
server.on('error', () => undefined);
server.listen(0, '127.0.0.1', () => {
  const { port } = (server as unknown as { server: { address(): { port: number } } }).server.address();
  process.send!({ port });
});
process.on('disconnect', () => server.close(() => process.exit(0)));
