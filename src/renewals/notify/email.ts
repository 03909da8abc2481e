// E-mail over SMTP with nodemailer, as the seed's Kapacitor alert sent it:
// a subject and a plain-text body. The SMTP password never leaves the transport.
import nodemailer, { type Transporter } from 'nodemailer';
import type { EmailChannelConfig } from '../../config/defaults.js';
import type { NotificationChannel } from './channel.js';
import type { PendingNotification } from './outbox.js';

export class EmailChannel implements NotificationChannel {
  readonly kind = 'email';
  readonly name: string;
  readonly #config: EmailChannelConfig;
  readonly #transport: Transporter;
  /**
   * By notification: the recipients the server refused at the last attempt, while others took it. The
   * next attempt goes to them only, so that nobody gets a notice twice (after a restart, to everyone).
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

  async send(notification: PendingNotification, signal: AbortSignal): Promise<void> {
    // nodemailer cannot cancel a send; a stopping relay just stops waiting (the notification stays pending).
    if (signal.aborted) throw new Error('e-mail not sent: the relay is stopping');
    const to = this.#refusedRecipients.get(notification.id) ?? [...this.#config.to];
    let refused: string[];
    let refusals: string[];
    try {
      const info = (await this.#transport.sendMail({
        from: this.#config.from,
        to,
        subject: notification.subject,
        text: notification.body,
        headers: { 'X-Certrelay-Kind': notification.kind },
      })) as { rejected?: unknown[]; rejectedErrors?: Array<{ response?: string }> };
      refused = (info.rejected ?? []).map(String);
      refusals = (info.rejectedErrors ?? []).map((e) => e.response ?? '').filter((r) => r !== '');
    } catch (err) {
      const e = err as { code?: string; responseCode?: number; message?: string };
      const code = e.responseCode !== undefined ? `SMTP ${e.responseCode}` : (e.code ?? 'error');
      throw new Error(`e-mail via ${this.#config.host}:${this.#config.port} failed (${code}): ${e.message ?? String(err)}`);
    }
    if (refused.length === 0) {
      this.#refusedRecipients.delete(notification.id);
      return;
    }
    // Some took it, some were refused: a failed send for those, retried for them alone.
    const again = to.filter((recipient) => refused.some((address) => recipient.includes(address)));
    this.#refusedRecipients.set(notification.id, again.length > 0 ? again : refused);
    throw new Error(
      `e-mail via ${this.#config.host}:${this.#config.port} refused for ${refused.join(', ')}` +
        `${refusals.length > 0 ? ` (${refusals[0]})` : ''}; the others have it, and it is sent again to these only`,
    );
  }

  close(): void {
    this.#transport.close();
  }
}
