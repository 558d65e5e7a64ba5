import type {
  OrderUpdate,
  OrderUpdateListener,
  StreamStatus,
  Subscription,
} from "../../broker/broker-port.js";
import type { Clock } from "../../core/clock.js";
import { scheduleOn } from "../virtual-clock.js";
import type { EventLog } from "./event-log.js";
import { type FaultPlan, faultNumber, STREAM_FAULTS } from "./fault-plan.js";
import { SIMULATED_BROKER_DEFAULTS } from "./options.js";

/** A held-back (`stream_reorder`) update goes out this long after it when no other update follows. */
const REORDER_FALLBACK_MS = 1000;

interface Subscriber {
  readonly listener: OrderUpdateListener;
  connected: boolean;
  closed: boolean;
}

/**
 * The order-update stream: its subscriptions, their connection, and the stream faults on
 * the way (drop, duplicate, reorder, delay, disconnect, silence).
 *
 * @remarks Connecting is asynchronous like a socket's: `connecting` at once (on the clock),
 * `connected` `streamMs` later, or when a disconnection ends. Updates reach only connected
 * subscribers, `streamMs` after they happen; nothing is replayed after a reconnect. A
 * listener that throws is ignored.
 */
export class UpdateStream {
  private readonly subscribers = new Set<Subscriber>();
  private downUntil = Number.NEGATIVE_INFINITY;
  private silentUntil = Number.NEGATIVE_INFINITY;
  private heldForReorder: OrderUpdate | undefined;

  /**
   * @param clock - every delay runs on it
   * @param log - records statuses, deliveries and losses
   * @param faults - the stream faults each update may meet
   * @param streamMs - from an update to its delivery
   */
  constructor(
    private readonly clock: Clock,
    private readonly log: EventLog,
    private readonly faults: FaultPlan,
    private readonly streamMs: number,
  ) {}

  /** Adds a subscriber, which connects on the clock. */
  subscribe(listener: OrderUpdateListener): Subscription {
    const sub: Subscriber = { listener, connected: false, closed: false };
    this.subscribers.add(sub);
    scheduleOn(this.clock, 0, () => {
      if (!sub.closed) this.status(sub, "connecting");
    });
    scheduleOn(this.clock, this.streamMs, () => this.connectWhenUp(sub));
    return {
      close: () => {
        if (sub.closed) return;
        sub.closed = true;
        sub.connected = false;
        this.subscribers.delete(sub);
      },
    };
  }

  /** Sends an update to the subscribers, through whatever stream fault it meets. */
  publish(update: OrderUpdate): void {
    const fault = this.faults.take(STREAM_FAULTS);
    const held = this.heldForReorder;
    this.heldForReorder = undefined;
    switch (fault?.kind) {
      case "stream_drop":
        this.lost(update, "drop");
        break;
      case "stream_duplicate":
        this.deliverLater(update, 0);
        this.deliverLater(update, 0);
        break;
      case "stream_reorder":
        // Delivered right after the next update; when none follows within a second, then.
        this.heldForReorder = update;
        scheduleOn(this.clock, REORDER_FALLBACK_MS, () => {
          if (this.heldForReorder !== update) return;
          this.heldForReorder = undefined;
          this.deliverLater(update, 0);
        });
        break;
      case "stream_delay":
        this.deliverLater(update, faultNumber(fault, "ms", SIMULATED_BROKER_DEFAULTS.faults.stream_delay.ms));
        break;
      case "stream_disconnect":
        this.disconnect(
          faultNumber(fault, "downMs", SIMULATED_BROKER_DEFAULTS.faults.stream_disconnect.downMs),
        );
        this.lost(update, "disconnected");
        break;
      case "stream_silence":
        this.silentUntil =
          this.clock.now() + faultNumber(fault, "ms", SIMULATED_BROKER_DEFAULTS.faults.stream_silence.ms);
        this.lost(update, "silence");
        break;
      default:
        this.deliverLater(update, 0);
    }
    if (held !== undefined) this.deliverLater(held, 0);
  }

  /** Drops every connection now; each reconnects after `downMs` (disconnected → reconnecting → connected). */
  disconnect(downMs: number): void {
    const until = this.clock.now() + downMs;
    this.downUntil = Math.max(this.downUntil, until);
    for (const sub of [...this.subscribers]) {
      if (!sub.connected) continue;
      sub.connected = false;
      this.status(sub, "disconnected");
      this.status(sub, "reconnecting");
      scheduleOn(this.clock, downMs, () => this.connectWhenUp(sub));
    }
  }

  /** Connects the subscriber, or tries again when the current disconnection ends. */
  private connectWhenUp(sub: Subscriber): void {
    if (sub.closed) return;
    const now = this.clock.now();
    if (now < this.downUntil) {
      scheduleOn(this.clock, this.downUntil - now, () => this.connectWhenUp(sub));
      return;
    }
    sub.connected = true;
    this.status(sub, "connected");
  }

  private status(sub: Subscriber, status: StreamStatus): void {
    this.log.record("stream_status", { status });
    try {
      sub.listener.onStatus?.(status);
    } catch {
      // A listener's error is its own; the broker goes on.
    }
  }

  private lost(update: OrderUpdate, why: "drop" | "disconnected" | "silence"): void {
    this.log.record("lost", { orderId: update.order.id, event: update.event, why });
  }

  private deliverLater(update: OrderUpdate, extraMs: number): void {
    scheduleOn(this.clock, this.streamMs + extraMs, () => this.deliver(update));
  }

  private deliver(update: OrderUpdate): void {
    if (this.clock.now() < this.silentUntil) {
      this.lost(update, "silence");
      return;
    }
    let n = 0;
    for (const sub of [...this.subscribers]) {
      if (!sub.connected || sub.closed) continue;
      n++;
      const copy: OrderUpdate = {
        ...update,
        order: { ...update.order, updatedAt: new Date(update.order.updatedAt) },
        at: new Date(update.at),
      };
      if (update.fill !== undefined) copy.fill = { ...update.fill };
      try {
        sub.listener.onUpdate(copy);
      } catch {
        // A listener's error is its own; the broker goes on.
      }
    }
    this.log.record("deliver", { orderId: update.order.id, event: update.event, subscribers: n });
  }
}
