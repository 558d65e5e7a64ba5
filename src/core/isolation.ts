/**
 * Isolation of caller code the library calls back: event listeners and loggers. A listener or a
 * logger that throws (or returns a rejected promise) must never change what is traded or
 * reported, so each call is caught, reported, and the library goes on.
 */
import { EventEmitter } from "eventemitter3";
import { type Logger, silentLogger } from "./logger.js";

const LEVELS = ["debug", "info", "warn", "error"] as const;

/**
 * Wraps a logger so that none of its methods can throw into the library: a throwing or
 * missing method is swallowed (a logger that fails cannot be told it failed).
 *
 * @param logger - the caller's logger (pino, console, …)
 * @returns a logger whose methods never throw
 * @example
 * ```ts
 * const log = isolateLogger({ ...console, warn() { throw new Error("disk full"); } });
 * log.warn("still safe"); // does not throw
 * ```
 */
export function isolateLogger(logger: Logger | undefined): Logger {
  if (logger === undefined || logger === silentLogger) return silentLogger;
  const safe: Logger = { ...silentLogger };
  for (const level of LEVELS) {
    safe[level] = (...args: unknown[]) => {
      try {
        const out: unknown = Reflect.apply(logger[level], logger, args);
        swallowRejection(out);
      } catch {
        // A logger that throws cannot be told it threw.
      }
    };
  }
  return safe;
}

function swallowRejection(value: unknown): void {
  if (typeof value === "object" && value !== null && typeof Reflect.get(value, "then") === "function") {
    Promise.resolve(value).catch(() => {});
  }
}

interface ListenerSlot {
  fn: (...args: unknown[]) => unknown;
  context: unknown;
  once: boolean;
}

function isSlot(value: unknown): value is ListenerSlot {
  return typeof value === "object" && value !== null && typeof Reflect.get(value, "fn") === "function";
}

/** The listeners registered for one event, read from eventemitter3's store. */
function slotsOf(emitter: object, event: string | symbol): ListenerSlot[] {
  const store: unknown = Reflect.get(emitter, "_events");
  if (typeof store !== "object" || store === null) return [];
  const prefix = EventEmitter.prefixed;
  const key = typeof event === "string" && typeof prefix === "string" ? prefix + event : event;
  const slot: unknown = Reflect.get(store, key);
  if (Array.isArray(slot)) return slot.filter(isSlot);
  return isSlot(slot) ? [slot] : [];
}

/** Called with a listener's failure: the event's name and what it threw. */
export type ListenerFailure = (event: string, error: unknown) => void;

/**
 * An event emitter whose `emit` calls every listener, each isolated: one that throws, or returns
 * a rejected promise, is reported to the logger and the others still run; the emitting code
 * never sees the failure.
 *
 * @typeParam Events - the event map, as for eventemitter3
 * @example
 * ```ts
 * class Feed extends IsolatedEmitter<{ tick: [n: number] }> {}
 * const feed = new Feed(console);
 * feed.on("tick", () => { throw new Error("bug in the bot"); });
 * feed.emit("tick", 1); // logged, not thrown
 * ```
 */
export class IsolatedEmitter<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  #logger: Logger;

  /** @param logger - where a listener's failure is reported (isolated itself) */
  constructor(logger?: Logger) {
    super();
    this.#logger = isolateLogger(logger);
  }

  /** Replaces where listener failures are reported. */
  protected setListenerLogger(logger: Logger): void {
    this.#logger = isolateLogger(logger);
  }

  override emit<T extends EventEmitter.EventNames<Events>>(
    event: T,
    ...args: EventEmitter.EventArgs<Events, T>
  ): boolean {
    const slots = slotsOf(this, event);
    if (slots.length === 0) return false;
    for (const slot of slots) {
      if (slot.once)
        Reflect.apply(EventEmitter.prototype.removeListener, this, [event, slot.fn, undefined, true]);
      this.#call(String(event), slot, args);
    }
    return true;
  }

  #call(event: string, slot: ListenerSlot, args: unknown[]): void {
    const report = (error: unknown) =>
      this.#logger.error({ event, err: describe(error) }, "an event listener threw; ignored");
    try {
      const out: unknown = Reflect.apply(slot.fn, slot.context, args);
      if (typeof out === "object" && out !== null && typeof Reflect.get(out, "then") === "function") {
        Promise.resolve(out).catch(report);
      }
    } catch (error) {
      report(error);
    }
  }
}

function describe(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return "unprintable error";
  }
}
