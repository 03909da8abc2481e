// With server.tls_cert set, a client that still speaks plain HTTP to the port (a hook or Telegraf
// URL left at http://) gets a 400 that says so, as influxd (Go's net/http) answers "Client sent an
// HTTP request to an HTTPS server". Node's TLS server would close the connection without a word:
// curl says "Empty reply from server", the hook and Telegraf a bare EOF.
import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { rawErrorAnswer } from './client-error.js';

/** The first byte of every TLS connection: a handshake record (the ClientHello). */
const TLS_HANDSHAKE_RECORD = 0x16;
/** Node's own handshakeTimeout, which only starts once the TLS socket exists: a silent connection ends as it did. */
const FIRST_BYTE_TIMEOUT_MS = 120_000;

export const PLAIN_HTTP_MESSAGE = 'this port speaks HTTPS (server.tls_cert is set) and the client sent plain HTTP: use an https:// URL';

/** Looks at each connection's first byte before the TLS server takes it; must run before other 'connection' listeners are added. */
export function answerPlainHttpOnTls(server: TlsServer): void {
  const tlsListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const abandon = (): void => {
      socket.destroy();
    };
    const firstByte = (): void => {
      const chunk = socket.read(1) as Buffer | null;
      if (chunk === null) {
        socket.once('readable', firstByte);
        return;
      }
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        socket.off('end', abandon).off('error', abandon).off('timeout', abandon);
        socket.setTimeout(0);
        // Unread again: the TLS socket takes over what the socket has buffered.
        socket.unshift(chunk);
        for (const listener of tlsListeners) listener.call(server, socket);
      } else {
        // The rest of the request is read and dropped, so that closing sends no reset before the answer is read.
        socket.on('error', abandon).resume();
        socket.end(rawErrorAnswer(400, PLAIN_HTTP_MESSAGE));
      }
    };
    socket.once('end', abandon).once('error', abandon).once('timeout', abandon);
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS);
    firstByte();
  });
}
