// Requests a connection still owes an answer to. A malformed request pipelined behind a write
// that waits for its commit must not have its 400 written first: the client would read it as
// the answer to the write, which was stored (a hook then sets stored lines aside as rejected).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

interface InFlight {
  readonly req: IncomingMessage;
  readonly answered: Promise<void>;
}

export class AnswersInFlight {
  readonly #bySocket = new WeakMap<Duplex, Set<InFlight>>();

  /** Sees from here on every request of the server, before any handler does. */
  attach(server: Server): void {
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      let pending = this.#bySocket.get(req.socket);
      if (pending === undefined) this.#bySocket.set(req.socket, (pending = new Set()));
      const entry: InFlight = { req, answered: new Promise<void>((resolve) => res.once('close', () => resolve())) };
      pending.add(entry);
      void entry.answered.then(() => pending.delete(entry));
    });
  }

  /**
   * The answers still owed for requests that arrived in full on this connection (not the broken
   * one, whose body the parser gave up on); empty when there are none.
   */
  owed(socket: Duplex): Promise<void>[] {
    return [...(this.#bySocket.get(socket) ?? [])].filter((entry) => entry.req.complete).map((entry) => entry.answered);
  }
}
