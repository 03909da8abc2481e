// A place notifications go. send() resolves once the channel accepted the
// notification and rejects with an operator-facing reason otherwise; every
// rejection is retried by the notifier. It resolves with a note when some of
// its recipients refused it for good: sending it again cannot help them.
// Reasons and notes never include secrets.
import type { Config } from '../../config/defaults.js';
import { EmailChannel } from './email.js';
import type { PendingNotification } from './outbox.js';
import { WebhookChannel } from './webhook.js';

type NotifyConfig = Pick<Config['notify'], 'webhooks' | 'email'>;

/** A failed send that some recipients have all the same: retried for the others, it holds no later notice back. */
export class PartlyDeliveredError extends Error {}

/**
 * A failed send of this notification alone (a mail server refusing its content for good): retried, it holds no
 * later notice back, since the next ones may well be taken.
 */
export class MessageRefusedError extends Error {}

export type ChannelKind = 'webhook' | 'email';

export interface NotificationChannel {
  readonly name: string;
  readonly kind: ChannelKind;
  /** Resolves with a note naming the recipients that refused it for good, if any; the others have it. */
  send(notification: PendingNotification, signal: AbortSignal): Promise<string | void>;
  close(): void;
}

/** Every configured channel, webhooks first, in file order. */
export function openChannels(notify: NotifyConfig): NotificationChannel[] {
  return [...notify.webhooks.map((c) => new WebhookChannel(c)), ...notify.email.map((c) => new EmailChannel(c))];
}
