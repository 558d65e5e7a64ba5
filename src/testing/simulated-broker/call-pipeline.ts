import { BROKER_METHODS, type BrokerMethod, type CallOptions } from "../../broker/broker-port.js";
import { abortReason, type Clock, throwIfAborted } from "../../core/clock.js";
import { brokerError } from "./broker-errors.js";
import type { EventLog } from "./event-log.js";
import { type FaultPlan, faultNumber, REST_ERROR_FAULTS } from "./fault-plan.js";
import { SIMULATED_BROKER_DEFAULTS } from "./options.js";

const FAULT_DEFAULTS = SIMULATED_BROKER_DEFAULTS.faults;

/** No calls yet (the compiler holds its keys equal to `BrokerMethod`). */
const NO_CALLS: Readonly<Record<BrokerMethod, number>> = {
  getAccount: 0,
  getPositions: 0,
  getPosition: 0,
  getAssets: 0,
  getLatestPrices: 0,
  getClock: 0,
  submitOrder: 0,
  getOrder: 0,
  getOrderByClientOrderId: 0,
  listOpenOrders: 0,
  cancelOrder: 0,
  closePosition: 0,
  listOrders: 0,
  getLatestQuotes: 0,
  replaceOrder: 0,
};

/**
 * A call's effect: runs at once (it may throw the venue's refusal) and returns how to build
 * the reply, which is sent when the REST latency has passed.
 */
export type CallEffect<T> = () => () => T;

/**
 * How every `BrokerPort` call of the simulated broker goes, like a REST call: counted and
 * logged, then the REST faults (`unavailable`, `rate_limited`: no effect; `ambiguous`: the
 * effect happens, the reply is lost), the latency (plus a `latency_spike`), and the abort
 * rules of the contract.
 */
export class CallPipeline {
  private readonly counts: Record<BrokerMethod, number> = { ...NO_CALLS };

  /**
   * @param clock - the latency runs on it
   * @param log - records each call
   * @param faults - the REST faults
   * @param restMs - the latency of every reply
   */
  constructor(
    private readonly clock: Clock,
    private readonly log: EventLog,
    private readonly faults: FaultPlan,
    private readonly restMs: number,
  ) {}

  /** A frozen copy of the call counts. */
  get calls(): Readonly<Record<BrokerMethod, number>> {
    return Object.freeze({ ...this.counts });
  }

  /** @returns the total of every call count */
  total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  /** Sets every count to 0. */
  reset(): void {
    for (const m of BROKER_METHODS) this.counts[m] = 0;
  }

  /**
   * Runs one call.
   *
   * @param method - the port method
   * @param opts - its options (the abort signal)
   * @param write - whether it changes the broker's state (an abort in flight is then `ambiguous`)
   * @param effect - the call's effect
   * @returns the reply
   * @throws the abort reason when aborted before the call; `BrokerError` for a fault or a refusal
   */
  async run<T>(
    method: BrokerMethod,
    opts: CallOptions | undefined,
    write: boolean,
    effect: CallEffect<T>,
  ): Promise<T> {
    this.counts[method]++;
    const signal = opts?.signal;
    throwIfAborted(signal);
    this.log.record("call", { method });
    const errorFault = this.faults.take(REST_ERROR_FAULTS, method);
    const spike = this.faults.take(["latency_spike"], method);
    const delayMs =
      this.restMs + (spike === undefined ? 0 : faultNumber(spike, "ms", FAULT_DEFAULTS.latency_spike.ms));
    if (errorFault !== undefined && errorFault.kind !== "ambiguous") {
      await this.awaitReply(method, delayMs, signal, write);
      if (errorFault.kind === "rate_limited") {
        const retryAfterMs = faultNumber(
          errorFault,
          "retryAfterMs",
          FAULT_DEFAULTS.rate_limited.retryAfterMs,
        );
        throw brokerError("rate_limited", "rate limit exceeded", "42910000", { method }, { retryAfterMs });
      }
      throw brokerError("unavailable", "service unavailable", undefined, { method });
    }
    let reply: (() => T) | undefined;
    let refusal: unknown;
    try {
      reply = effect();
    } catch (e) {
      refusal = e;
    }
    await this.awaitReply(method, delayMs, signal, write);
    if (errorFault?.kind === "ambiguous") {
      throw brokerError("ambiguous", "the connection was lost before the reply", undefined, { method });
    }
    if (reply === undefined) throw refusal;
    return reply();
  }

  /** Waits for the reply; an abort meanwhile is `ambiguous` for a write, the abort reason for a read. */
  private async awaitReply(
    method: BrokerMethod,
    ms: number,
    signal: AbortSignal | undefined,
    write: boolean,
  ): Promise<void> {
    let aborted: { reason: unknown } | undefined;
    try {
      if (ms > 0) await this.clock.sleep(ms, signal);
      else await undefined;
    } catch (e) {
      aborted = { reason: e };
    }
    if (aborted === undefined && signal?.aborted) aborted = { reason: abortReason(signal) };
    if (aborted === undefined) return;
    if (write) {
      throw brokerError(
        "ambiguous",
        `${method} aborted in flight`,
        undefined,
        { method },
        { cause: aborted.reason },
      );
    }
    throw aborted.reason;
  }
}
