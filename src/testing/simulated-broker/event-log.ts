import type { Clock } from "../../core/clock.js";

/**
 * Every kind of entry of the simulated broker's event log, in a stable order.
 *
 * @example
 * ```ts
 * SIM_EVENT_TYPES.includes("fill"); // true
 * ```
 */
export const SIM_EVENT_TYPES = [
  "call",
  "fault",
  "submit",
  "refused",
  "update",
  "deliver",
  "lost",
  "stream_status",
  "fill",
  "price",
  "market",
  "outside_trade",
  "replace",
] as const;

/**
 * What an entry of the simulated broker's event log records.
 *
 * @example
 * ```ts
 * const fills = broker.eventLog().filter((e) => e.type === "fill");
 * ```
 */
export type SimEventType = (typeof SIM_EVENT_TYPES)[number];

/**
 * One entry of the event log: JSON-serializable (decimals as strings, times as ms since the
 * epoch), so two runs can be compared byte for byte.
 *
 * @example
 * ```ts
 * expect(JSON.stringify(runA.eventLog())).toBe(JSON.stringify(runB.eventLog()));
 * ```
 */
export interface SimEvent {
  /** Position in the log, from 0. */
  readonly seq: number;
  /** Clock time in ms since the epoch. */
  readonly at: number;
  /** What happened. */
  readonly type: SimEventType;
  /** The facts of the event (`orderId`, `event`, `qty`, `price`, `executionId`, `kind`, ...). */
  readonly [key: string]: string | number | boolean | null;
}

/** The facts of one entry; their keys keep the order they are written in (the log is compared byte for byte). */
export type SimEventDetail = Readonly<Record<string, string | number | boolean | null>>;

/** The broker's append-only log of everything that happened, stamped with the clock. */
export class EventLog {
  private readonly entries: SimEvent[] = [];

  /** @param clock - stamps every entry */
  constructor(private readonly clock: Clock) {}

  /**
   * Appends one entry.
   *
   * @param type - what happened
   * @param detail - its facts; a key named `seq`, `at` or `type` would overwrite the stamp, so none is
   */
  record(type: SimEventType, detail: SimEventDetail): void {
    this.entries.push({ seq: this.entries.length, at: this.clock.now(), type, ...detail });
  }

  /** @returns a copy of every entry, oldest first */
  list(): readonly SimEvent[] {
    return this.entries.slice();
  }
}
