// The write bodies the relay holds at once, counted after decompression, from
// their first byte until their write is answered. Each body is capped by
// server.max_body_bytes, but with no cap on their sum 16 gzip bodies of 35 KB,
// each inflating to 24 MB of tiny lines, took the relay to 6.6 GB. Past the
// budget a write gets 503 + Retry-After: it is the client's to send again, and
// nothing already accepted is touched.
import { RelayError } from '../errors.js';

export class BodyBudget {
  readonly maxBytes: number;
  readonly #onRefused: (heldBytes: number) => void;
  #held = 0;

  /** `maxBytes` must be at least the largest body, so that a body alone always fits. */
  constructor(maxBytes: number, onRefused: (heldBytes: number) => void = () => {}) {
    this.maxBytes = maxBytes;
    this.#onRefused = onRefused;
  }

  /** Bytes held by the bodies in flight. */
  get heldBytes(): number {
    return this.#held;
  }

  /** A reservation for one body, empty until it holds bytes; release it once the write is answered. */
  open(): BodyReservation {
    let bytes = 0;
    let released = false;
    return {
      hold: (total: number): void => {
        if (released || total <= bytes) return;
        const more = total - bytes;
        if (this.#held + more > this.maxBytes) {
          this.#onRefused(this.#held);
          throw new RelayError('CR_BODIES_IN_FLIGHT', this.maxBytes);
        }
        this.#held += more;
        bytes = total;
      },
      release: (): void => {
        if (released) return;
        released = true;
        this.#held -= bytes;
      },
    };
  }
}

export interface BodyReservation {
  /** Holds `total` bytes for this body (its size so far); throws CR_BODIES_IN_FLIGHT (503) past the budget. */
  hold(total: number): void;
  /** Gives the bytes back; later calls do nothing. */
  release(): void;
}
