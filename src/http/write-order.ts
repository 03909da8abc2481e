// Writes pipelined on one connection are stored in the order they arrived. Node hands
// every pipelined request to its handler at once, and a gzip body (decompressed in the
// background) or a large one (prepared on a worker) would otherwise be committed after
// the plain one sent behind it: the forwarders would then deliver them in that order, and
// a target would keep the older value of a point written twice. influxd applies them in
// order. So a write waits until the requests before it on its connection are answered.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export class WriteOrder {
  /** Per connection: settles once its latest POST has been answered (or the connection closed). */
  readonly #latest = new WeakMap<Socket, Promise<void>>();
  /** Per request: what it waits for, when another POST came before it on the same connection. */
  readonly #before = new WeakMap<IncomingMessage, Promise<void>>();

  /** Sees every request as it arrives, before any handler (registered first). */
  constructor(server: Server) {
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'POST') return;
      const previous = this.#latest.get(req.socket);
      if (previous !== undefined) this.#before.set(req, previous);
      this.#latest.set(req.socket, new Promise<void>((resolve) => res.once('close', () => resolve())));
    });
  }

  /** Settles once the POSTs that arrived before this one on its connection have been answered. */
  turnOf(req: IncomingMessage): Promise<void> | undefined {
    return this.#before.get(req);
  }
}
