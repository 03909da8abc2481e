// Requests a connection still owes an answer to. A malformed request pipelined behind a write
// that waits for its commit must not have its 400 written first: the client would read it as
// the answer to the write, which was stored (a hook then sets stored lines aside as rejected).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { answered, isAnswered } from './answer-sent.js';

interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

export class AnswersInFlight {
  readonly #bySocket = new WeakMap<Duplex, Exchange[]>();

  /** Sees from here on every request of the server, before any handler does. */
  attach(server: Server): void {
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const exchanges = this.#bySocket.get(req.socket);
      if (exchanges === undefined) {
        this.#bySocket.set(req.socket, [{ req, res }]);
        return;
      }
      // Answered ones go: the list holds at most what is pipelined at once.
      const open = exchanges.filter((e) => !isAnswered(e.res));
      open.push({ req, res });
      this.#bySocket.set(req.socket, open);
    });
  }

  /**
   * The answers still owed for requests that arrived in full on this connection (not the broken
   * one, whose body the parser gave up on); empty when there are none.
   */
  owed(socket: Duplex): Promise<void>[] {
    return (this.#bySocket.get(socket) ?? []).filter((e) => e.req.complete && !isAnswered(e.res)).map((e) => answered(e.res));
  }
}
