// The requests each connection still owes an answer to, seen as they arrive (before any handler).
// Two things need them:
// - Writes pipelined on one connection are stored in the order they arrived. Node hands every
//   pipelined request to its handler at once, and a gzip body (decompressed in the background) or a
//   large one (prepared on a worker) would otherwise be committed after the plain one behind it: a
//   target would then keep the older value of a point written twice. influxd applies them in order.
// - A malformed request pipelined behind a write that waits for its commit must not have its 400
//   written first: the client would read it as the write's answer (a hook then sets stored lines
//   aside as rejected).
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

  /** Settles once the POSTs that arrived before this request on its connection have been answered. */
  turnOf(req: IncomingMessage): Promise<void> | undefined {
    const exchanges = this.#bySocket.get(req.socket) ?? [];
    const at = exchanges.findIndex((e) => e.req === req);
    if (at <= 0) return undefined; // first on its connection, or not seen by the server (inject)
    const before = exchanges.slice(0, at);
    // Answers go out in order: the last one owed settles after all the others.
    const previous = before.filter((e) => e.req.method === 'POST' && !isAnswered(e.res)).at(-1);
    return previous === undefined ? undefined : answered(previous.res);
  }

  /**
   * The answers still owed for requests that arrived in full on this connection (not the broken
   * one, whose body the parser gave up on); empty when there are none.
   */
  owed(socket: Duplex): Promise<void>[] {
    return (this.#bySocket.get(socket) ?? []).filter((e) => e.req.complete && !isAnswered(e.res)).map((e) => answered(e.res));
  }
}
