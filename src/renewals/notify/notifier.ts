// The delivery loop: sends what the outbox holds for each configured channel,
// oldest first, and records each attempt. A refusal is retried with capped
// exponential backoff, forever: a notification is dropped only by being
// delivered. Channels are served side by side, so a dead SMTP server never
// delays the webhook.
import type { Clock } from '../../clock.js';
import { backoffMs, type BackoffPolicy } from '../../forward/backoff.js';
import type { NotificationChannel } from './channel.js';
import type { Outbox, PendingNotification } from './outbox.js';

export interface NotifierLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DeliveryCounters {
  readonly notificationsSent: { inc(labels: { channel: string; kind: string }): void };
  readonly notificationsFailed: { inc(labels: { channel: string; kind: string }): void };
}

export interface NotifierDeps {
  readonly outbox: Outbox;
  readonly channels: readonly NotificationChannel[];
  readonly clock: Clock;
  readonly retry: BackoffPolicy;
  readonly counters?: DeliveryCounters;
  readonly log?: NotifierLog;
}

/** Notifications one channel sends per round before the others' turn comes round again. */
const ROUND_SIZE = 50;

export class Notifier {
  readonly #deps: NotifierDeps;
  readonly #channelNames: string[];
  readonly #stopping = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  // Rounds run one after the other, so no notification is ever sent twice at once.
  #chain: Promise<void> = Promise.resolve();
  #roundQueued = false;

  constructor(deps: NotifierDeps) {
    this.#deps = deps;
    this.#channelNames = deps.channels.map((c) => c.name);
  }

  get channelNames(): readonly string[] {
    return this.#channelNames;
  }

  /** Starts delivering what is already waiting (from before a restart) and what arrives later. */
  start(): this {
    this.wake();
    return this;
  }

  /** Delivers what is due soon: call after queueing notifications. */
  wake(): void {
    if (this.#stopping.signal.aborted || this.#roundQueued) return;
    this.#roundQueued = true;
    void this.deliverDue();
  }

  /**
   * One delivery round after any round under way: every due notification of
   * every channel is tried once. Resolves when the round is over; never rejects.
   */
  deliverDue(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#round());
    return this.#chain;
  }

  /** Stops the loop; waits up to graceMs for sends under way (an unfinished one stays pending). */
  async stop(graceMs: number): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#timer);
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([this.#chain, new Promise<void>((resolve) => (giveUp = setTimeout(resolve, graceMs)))]);
    clearTimeout(giveUp);
    for (const channel of this.#deps.channels) channel.close();
  }

  async #round(): Promise<void> {
    this.#roundQueued = false;
    if (this.#stopping.signal.aborted) return;
    try {
      await Promise.all(this.#deps.channels.map((channel) => this.#serve(channel)));
      this.#scheduleNext();
    } catch (err) {
      this.#deps.log?.error({ err }, 'notification delivery round failed');
    }
  }

  async #serve(channel: NotificationChannel): Promise<void> {
    const { outbox, clock } = this.#deps;
    for (const notification of outbox.pending(channel.name, ROUND_SIZE)) {
      // In order: nothing overtakes a notification waiting for its retry.
      if (this.#stopping.signal.aborted || notification.nextAttemptMs > clock.nowMs()) return;
      const failure = await this.#attempt(channel, notification);
      // The store may be closing once stop() gave up waiting: record nothing after that.
      if (this.#stopping.signal.aborted && failure !== undefined) return;
      if (failure === undefined) {
        outbox.markDelivered(notification.id, clock.nowMs());
        this.#deps.counters?.notificationsSent.inc({ channel: channel.name, kind: notification.kind });
        continue;
      }
      const failures = notification.attempts + 1;
      const retryInMs = backoffMs(failures, this.#deps.retry);
      outbox.markFailed(notification.id, failure, clock.nowMs() + retryInMs);
      this.#deps.counters?.notificationsFailed.inc({ channel: channel.name, kind: notification.kind });
      this.#deps.log?.warn(
        { channel: channel.name, notification: notification.id, attempts: failures, retryInMs, error: failure },
        'notification not delivered; will retry',
      );
      return;
    }
  }

  /** undefined when the channel accepted it, else the reason. */
  async #attempt(channel: NotificationChannel, notification: PendingNotification): Promise<string | undefined> {
    try {
      await channel.send(notification, this.#stopping.signal);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }

  #scheduleNext(): void {
    if (this.#stopping.signal.aborted) return;
    clearTimeout(this.#timer);
    const heads = this.#channelNames.flatMap((name) => this.#deps.outbox.pending(name, 1).map((n) => n.nextAttemptMs));
    if (heads.length === 0) return;
    const next = Math.min(...heads);
    const delayMs = Math.min(Math.max(0, next - this.#deps.clock.nowMs()), this.#deps.retry.maxMs);
    this.#timer = setTimeout(() => this.wake(), delayMs);
    this.#timer.unref();
  }
}
