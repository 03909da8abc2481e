// Expect: 100-continue (curl sends it for bodies over 1 KiB). Node answers "100 Continue" at
// once by default, so a write refused by its headers alone (401, 400, 413 for its declared
// length, 503 while stopping) had its body uploaded for nothing, megabytes of it. On the write
// routes the relay says "continue" only when it is about to read the body; a write refused
// before that is answered with Connection: close, as influxd does, since its body never comes.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export class ExpectContinue {
  /** Requests that asked for "100 Continue" and have not been told it yet. */
  readonly #waiting = new WeakSet<IncomingMessage>();

  /** holds(url): whether a request to that URL reads its body only once its headers are accepted. */
  constructor(server: Server, holds: (url: string) => boolean) {
    // With a listener here, Node neither sends "100 Continue" nor emits 'request' by itself.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (holds(req.url ?? '')) this.#waiting.add(req);
      else res.writeContinue();
      server.emit('request', req, res);
    });
  }

  /** Right before the body is read: a client still waiting is told to send it. */
  proceed(req: IncomingMessage, res: ServerResponse): void {
    if (this.#waiting.delete(req)) res.writeContinue();
  }

  /** The client still waits for "100 Continue": its body will not come, so the answer closes the connection. */
  isWaiting(req: IncomingMessage): boolean {
    return this.#waiting.has(req);
  }
}
