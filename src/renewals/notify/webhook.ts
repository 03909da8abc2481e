// The generic JSON webhook: POST the notification's payload; any 2xx is
// accepted. The URL and headers may hold secrets, so errors name neither.
import type { WebhookChannelConfig } from '../../config/defaults.js';
import { RELAY_VERSION } from '../../version.js';
import { MessageRefusedError, type NotificationChannel } from './channel.js';
import type { PendingNotification } from './outbox.js';

/** Enough of a refusal's body to explain it in last_error. */
const ERROR_BODY_CHARS = 200;
// Read no more than this of any answer: a receiver (or a URL that reaches a download) answering gigabytes
// was read whole into one string, which took the relay's memory and crashed it (3 GB: a V8 fatal error).
const ANSWER_READ_BYTES = 4 * ERROR_BODY_CHARS;
/** Bad Request, Content Too Large, Unprocessable Content: a refusal of the payload sent. */
const PAYLOAD_REFUSALS: ReadonlySet<number> = new Set([400, 413, 422]);

export class WebhookChannel implements NotificationChannel {
  readonly kind = 'webhook';
  readonly name: string;
  readonly #config: WebhookChannelConfig;

  constructor(config: WebhookChannelConfig) {
    this.name = config.name;
    this.#config = config;
  }

  async send(notification: PendingNotification, signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': `certrelay/${RELAY_VERSION}`,
      ...Object.fromEntries(this.#config.headers),
    };
    if (this.#config.bearerToken !== undefined) headers.Authorization = `Bearer ${this.#config.bearerToken}`;
    let res: Response;
    try {
      res = await fetch(this.#config.url, {
        method: 'POST',
        headers,
        body: notification.payload,
        // Followed, a 302 turns the POST into a GET that any 200 "delivers", and a 307 takes the secret
        // headers to whatever host it names: a redirect is a failed send, to fix in the URL.
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(this.#config.timeoutMs)]),
      });
    } catch (err) {
      throw new Error(describeFetchError(err, this.#config.timeoutMs));
    }
    if (res.status >= 200 && res.status <= 299) {
      // Accepted: whatever body follows says nothing more, and is not read.
      void res.body?.cancel().catch(() => {});
      return;
    }
    const text = await readStart(res, ANSWER_READ_BYTES);
    if (res.status >= 300 && res.status < 400) {
      throw new Error(`webhook answered ${res.status}, a redirect, which is not followed: set notify.webhooks url to where it points`);
    }
    const excerpt = text.trim().slice(0, ERROR_BODY_CHARS);
    const reason = `webhook answered ${res.status}${excerpt === '' ? '' : `: ${excerpt}`}`;
    // These judge this payload, not the URL or its credentials: retried, it must not hold the later notices.
    if (PAYLOAD_REFUSALS.has(res.status)) throw new MessageRefusedError(`${reason}; retried, while the later notices are sent`);
    throw new Error(reason);
  }

  close(): void {}
}

/** The first maxBytes of the answer's body as text (a character cut at the end is dropped); '' when unreadable. */
async function readStart(res: Response, maxBytes: number): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body cut short still explains what arrived of it.
  } finally {
    void reader.cancel().catch(() => {});
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, maxBytes)).replace(/\uFFFD$/, '');
}

/** fetch's own message is only "fetch failed"; the reason is in its cause (a code such as ECONNREFUSED). */
function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return `webhook did not answer within ${timeoutMs} ms`;
  if (e.name === 'AbortError') return 'webhook request aborted: the relay is stopping';
  const cause = e.cause?.code ?? e.cause?.message ?? (err as Error).message;
  return `webhook unreachable: ${cause}`;
}
