// E-mail over SMTP with nodemailer, as the seed's Kapacitor alert sent it:
// a subject and a plain-text body. The SMTP password never leaves the transport.
import nodemailer, { type Transporter } from 'nodemailer';
import type { EmailChannelConfig } from '../../config/defaults.js';
import { MessageRefusedError, PartlyDeliveredError, type NotificationChannel } from './channel.js';
import type { PendingNotification } from './outbox.js';

export class EmailChannel implements NotificationChannel {
  readonly kind = 'email';
  readonly name: string;
  readonly #config: EmailChannelConfig;
  readonly #transport: Transporter;
  /**
   * By notification: the recipients the server refused for now (4xx) at the last attempt, while others took it.
   * The next attempt goes to them only, so that nobody gets a notice twice (after a restart, to everyone).
   */
  readonly #refusedRecipients = new Map<number, string[]>();

  constructor(config: EmailChannelConfig) {
    this.name = config.name;
    this.#config = config;
    this.#transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.security === 'tls',
      requireTLS: config.security === 'starttls',
      // "none" means plain text: do not upgrade opportunistically and fail on a bad certificate.
      ignoreTLS: config.security === 'none',
      ...(config.user !== undefined && { auth: { user: config.user, pass: config.password ?? '' } }),
      connectionTimeout: config.timeoutMs,
      greetingTimeout: config.timeoutMs,
      socketTimeout: config.timeoutMs,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async send(notification: PendingNotification, signal: AbortSignal): Promise<string | void> {
    // nodemailer cannot cancel a send; a stopping relay just stops waiting (the notification stays pending).
    if (signal.aborted) throw new Error('e-mail not sent: the relay is stopping');
    const retried = this.#refusedRecipients.get(notification.id);
    const to = retried ?? [...this.#config.to];
    let refused: string[];
    let refusals: Refusal[];
    try {
      const info = (await this.#transport.sendMail({
        from: this.#config.from,
        to,
        subject: notification.subject,
        text: notification.body,
        headers: { 'X-Certrelay-Kind': notification.kind },
      })) as { rejected?: unknown[]; rejectedErrors?: Refusal[] };
      refused = (info.rejected ?? []).map(String);
      refusals = info.rejectedErrors ?? [];
    } catch (err) {
      const e = err as { code?: string; responseCode?: number; message?: string; rejected?: unknown[]; rejectedErrors?: Refusal[] };
      if (retried === undefined || e.rejectedErrors === undefined || e.rejectedErrors.length === 0) {
        const code = e.responseCode !== undefined ? `SMTP ${e.responseCode}` : (e.code ?? 'error');
        const text = `e-mail via ${this.#config.host}:${this.#config.port} failed (${code}): ${e.message ?? String(err)}`;
        // Resent to those who did not take it before, it is still a notice the others have.
        if (retried !== undefined) throw new PartlyDeliveredError(text);
        // Refused for good after its content (a filter, a size limit): this message only; the next ones may pass.
        if (e.code === 'EMESSAGE' && e.responseCode !== undefined && e.responseCode >= 500) {
          throw new MessageRefusedError(`${text}; retried, while the later notices are sent`);
        }
        throw new Error(text);
      }
      // Resent to those who refused it before, and refused by all of them: judged as any refusal below.
      refused = (e.rejected ?? e.rejectedErrors.map((r) => r.recipient)).map(String);
      refusals = e.rejectedErrors;
    }
    // A 5xx refusal (no such mailbox) is final, as for any mail server: retried, it would hold every later
    // notice of the channel behind it for ever, and the other recipients would hear of nothing again.
    const forGood = refused.filter((address) => isPermanent(refusals.find((r) => r.recipient === address)));
    const forNow = refused.filter((address) => !forGood.includes(address));
    const via = `e-mail via ${this.#config.host}:${this.#config.port}`;
    const goodNote = forGood.length === 0 ? '' : `refused for good for ${forGood.join(', ')}${responseOf(refusals, forGood)}`;
    if (forNow.length === 0) {
      this.#refusedRecipients.delete(notification.id);
      if (forGood.length === 0) return;
      return `${via} ${goodNote}; the others have it, and it is not sent to these again (check notify.email.to)`;
    }
    // Some took it, some were refused for now: a failed send for those, retried for them alone.
    const again = to.filter((recipient) => forNow.some((address) => recipient.includes(address)));
    this.#refusedRecipients.set(notification.id, again.length > 0 ? again : forNow);
    throw new PartlyDeliveredError(
      `${via} refused for ${forNow.join(', ')}${responseOf(refusals, forNow)}; the others have it, and it is sent again to these only` +
        `${goodNote === '' ? '' : ` (${goodNote}: not sent to them again)`}`,
    );
  }

  close(): void {
    this.#transport.close();
  }
}

/** nodemailer's error for one refused recipient. */
interface Refusal {
  readonly recipient?: string;
  readonly response?: string;
  readonly responseCode?: number;
}

function isPermanent(refusal: Refusal | undefined): boolean {
  return refusal?.responseCode !== undefined && refusal.responseCode >= 500;
}

/** " (<the server's answer>)" for the first of these recipients that has one. */
function responseOf(refusals: readonly Refusal[], addresses: readonly string[]): string {
  const response = refusals.find((r) => r.recipient !== undefined && addresses.includes(r.recipient) && r.response)?.response;
  return response === undefined ? '' : ` (${response})`;
}
