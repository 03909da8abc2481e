// Writes pipelined on one connection are stored in the order they arrived. Node hands
// every pipelined request to its handler at once, and a gzip body (decompressed in the
// background) or a large one (prepared on a worker) would otherwise be committed after
// the plain one sent behind it: the forwarders would then deliver them in that order, and
// a target would keep the older value of a point written twice. influxd applies them in
// order. So a write waits until the POST before it on its connection is answered.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { answered, isAnswered } from './answer-sent.js';

export class WriteOrder {
  /** Per connection: the answer to its latest POST. */
  readonly #latest = new WeakMap<Socket, ServerResponse>();
  /** Per request: the answer to the POST before it on the same connection, still unsent when it arrived. */
  readonly #before = new WeakMap<IncomingMessage, ServerResponse>();

  /** Sees every request as it arrives, before any handler (registered first). */
  constructor(server: Server) {
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'POST') return;
      const previous = this.#latest.get(req.socket);
      if (previous !== undefined && !isAnswered(previous)) this.#before.set(req, previous);
      this.#latest.set(req.socket, res);
    });
  }

  /** Settles once the POSTs that arrived before this one on its connection have been answered. */
  turnOf(req: IncomingMessage): Promise<void> | undefined {
    const previous = this.#before.get(req);
    return previous === undefined ? undefined : answered(previous);
  }
}
