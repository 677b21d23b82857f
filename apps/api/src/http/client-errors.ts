import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Requests Node's HTTP parser rejects never reach Nest (raw non-ASCII bytes in the path, a
 * header block over the limit, Content-Length together with Transfer-Encoding, ...). Answer
 * them with the same JSON error shape and a stable code, then close the connection, instead of
 * Node's bare "400 Bad Request".
 */
export function answerParserErrors(server: Server): void {
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) => {
    // As Node's own handler: answer only a connection that has not been answered on yet and can
    // still be written to, and always destroy it (a reset peer gets no answer at all).
    if (error.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    const [status, reason, body] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', { error: 'headers_too_large', message: 'The request headers are too large.' }]
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', { error: 'request_timeout', message: 'The request took too long to arrive.' }]
          : [400, 'Bad Request', { error: 'malformed_request', message: 'The request is not valid HTTP/1.1 (check the path, the headers and the framing).' }];
    const json = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${json}`,
      () => socket.destroy(),
    );
  });
}
