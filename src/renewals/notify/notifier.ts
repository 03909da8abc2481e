// The delivery loop: sends what the outbox holds for each configured channel,
// oldest first, and records each attempt. A refusal is retried with capped
// exponential backoff, forever: a notification is dropped only by being
// delivered. Each channel has its own loop, so a dead or hanging SMTP server
// never delays the webhook.
import type { Clock } from '../../clock.js';
import { backoffMs, type BackoffPolicy } from '../../forward/backoff.js';
import { MessageRefusedError, PartlyDeliveredError, type NotificationChannel } from './channel.js';
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

/** Notifications one channel sends per round before its next round is queued. */
const ROUND_SIZE = 50;

/** One channel's delivery loop: its rounds run one after the other, apart from every other channel's. */
interface Lane {
  readonly channel: NotificationChannel;
  // Rounds of a channel are chained, so no notification is ever sent twice at once.
  chain: Promise<void>;
  roundQueued: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class Notifier {
  readonly #deps: NotifierDeps;
  readonly #channelNames: string[];
  readonly #lanes: Lane[];
  /** Aborted when stopping starts: no new round and no new send. */
  readonly #stopping = new AbortController();
  /**
   * Aborted when the stop's grace is over: cancels sends still under way, and nothing is recorded
   * after it (the store may be closing). A send that ends within the grace is recorded: cut short,
   * a webhook the receiver already had would be sent again after the restart.
   */
  readonly #givenUp = new AbortController();
  /**
   * Notifications some recipients have, waiting to be retried for the others (a full mailbox, 452), or whose
   * content alone the channel refused (a filter's 554): each would otherwise hold its channel's later notices
   * from every recipient. In memory, as the channel's own list of whom to retry: after a restart such a
   * notification goes to everyone again, in order.
   */
  readonly #overtakable = new Set<number>();

  constructor(deps: NotifierDeps) {
    this.#deps = deps;
    this.#channelNames = deps.channels.map((c) => c.name);
    this.#lanes = deps.channels.map((channel) => ({ channel, chain: Promise.resolve(), roundQueued: false, timer: undefined }));
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
    for (const lane of this.#lanes) this.#wakeLane(lane);
  }

  /**
   * One delivery round of every channel, each after its round under way: every
   * due notification is tried once. Resolves when the rounds are over; never rejects.
   */
  async deliverDue(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => this.#queueRound(lane)));
  }

  /** Stops the loops; waits up to graceMs for sends under way (an unfinished one stays pending). */
  async stop(graceMs: number): Promise<void> {
    this.#stopping.abort();
    for (const lane of this.#lanes) clearTimeout(lane.timer);
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.#lanes.map((lane) => lane.chain)), new Promise<void>((resolve) => (giveUp = setTimeout(resolve, graceMs)))]);
    clearTimeout(giveUp);
    this.#givenUp.abort();
    for (const channel of this.#deps.channels) channel.close();
  }

  #wakeLane(lane: Lane): void {
    if (this.#stopping.signal.aborted || lane.roundQueued) return;
    lane.roundQueued = true;
    void this.#queueRound(lane);
  }

  #queueRound(lane: Lane): Promise<void> {
    lane.chain = lane.chain.then(() => this.#round(lane));
    return lane.chain;
  }

  async #round(lane: Lane): Promise<void> {
    lane.roundQueued = false;
    if (this.#stopping.signal.aborted) return;
    try {
      await this.#serve(lane.channel);
      this.#scheduleNext(lane);
    } catch (err) {
      this.#deps.log?.error({ err, channel: lane.channel.name }, 'notification delivery round failed');
    }
  }

  async #serve(channel: NotificationChannel): Promise<void> {
    const { outbox, clock } = this.#deps;
    for (const notification of outbox.pending(channel.name, ROUND_SIZE)) {
      if (this.#stopping.signal.aborted) return;
      // In order: nothing overtakes a notification waiting for its retry, unless some recipients have it already
      // or its content alone was refused.
      if (!this.#isDue(notification.nextAttemptMs, clock.nowMs())) {
        if (this.#overtakable.has(notification.id)) continue;
        return;
      }
      const { failure, note, overtakable } = await this.#attempt(channel, notification);
      // The store may be closing once stop() gave up waiting: record nothing after that.
      if (this.#givenUp.signal.aborted) return;
      if (failure === undefined) {
        this.#overtakable.delete(notification.id);
        outbox.markDelivered(notification.id, clock.nowMs(), note);
        this.#deps.counters?.notificationsSent.inc({ channel: channel.name, kind: notification.kind });
        if (note !== undefined) {
          this.#deps.log?.error({ channel: channel.name, notification: notification.id, error: note }, 'notification not delivered to every recipient');
        }
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
      if (!overtakable) return;
      this.#overtakable.add(notification.id);
    }
  }

  /**
   * Due at its time, or at once when that lies further ahead than any backoff (retry_max_ms): the
   * wall clock was set back after the failure, and waiting for it would hold the channel that long.
   */
  #isDue(nextAttemptMs: number, nowMs: number): boolean {
    return nextAttemptMs <= nowMs || nextAttemptMs > nowMs + this.#deps.retry.maxMs;
  }

  /** failure: why the channel did not accept it; note: whom it did not reach for good, though accepted. */
  async #attempt(channel: NotificationChannel, notification: PendingNotification): Promise<{ failure?: string; note?: string; overtakable?: boolean }> {
    try {
      const note = await channel.send(notification, this.#givenUp.signal);
      return typeof note === 'string' ? { note } : {};
    } catch (err) {
      return { failure: (err as Error).message, overtakable: err instanceof PartlyDeliveredError || err instanceof MessageRefusedError };
    }
  }

  #scheduleNext(lane: Lane): void {
    if (this.#stopping.signal.aborted) return;
    clearTimeout(lane.timer);
    const [head] = this.#deps.outbox.pending(lane.channel.name, 1);
    if (head === undefined) return;
    const delayMs = Math.min(Math.max(0, head.nextAttemptMs - this.#deps.clock.nowMs()), this.#deps.retry.maxMs);
    lane.timer = setTimeout(() => this.#wakeLane(lane), delayMs);
    lane.timer.unref();
  }
}
