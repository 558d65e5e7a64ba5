import type { Random } from "../../core/random.js";
import type { EventLog } from "./event-log.js";
import type { TakenFault } from "./fault-plan.js";
import {
  SIMULATED_BROKER_DEFAULTS,
  type SimLagRange,
  type SimReadLag,
  type StaleReadMethod,
} from "./options.js";

const DEFAULT_RANGE = SIMULATED_BROKER_DEFAULTS.faults.read_lag;

/**
 * How far behind the fills the position and account reads are: the `readLag` option's delay
 * per endpoint, and the delay of each `read_lag` fault, each drawn in its range from a seeded
 * stream of its own (so configuring one shifts neither the other nor any other draw).
 */
export class ReadLag {
  /**
   * @param ranges - the `readLag` option: each endpoint's range
   * @param endpointRandom - draws the endpoints' delays
   * @param faultRandom - draws the `read_lag` faults' delays
   * @param log - where an endpoint's lag is logged
   */
  constructor(
    private readonly ranges: SimReadLag,
    private readonly endpointRandom: Random,
    private readonly faultRandom: Random,
    private readonly log: EventLog,
  ) {}

  /**
   * The endpoint's own lag for one read, logged as a `fault` `read_lag` (`source: "option"`).
   *
   * @param method - the read
   * @returns the delay in ms; 0 (and nothing logged, nothing drawn) when the endpoint does not lag
   */
  endpointDelay(method: StaleReadMethod): number {
    const range = this.ranges[method];
    if (range === undefined) return 0;
    const ms = drawMs(this.endpointRandom, range);
    this.log.record("fault", { kind: "read_lag", source: "option", method, ms });
    return ms;
  }

  /**
   * A `read_lag` fault's delay, for `FaultPlan.take` to apply and log.
   *
   * @param fault - the fault taken (its `minMs` / `maxMs`, defaults where left out)
   * @returns `{ ms }`
   */
  faultDelay(fault: TakenFault): { ms: number } {
    const min = param(fault, "minMs") ?? DEFAULT_RANGE.minMs;
    const max = param(fault, "maxMs") ?? Math.max(DEFAULT_RANGE.maxMs, min);
    return { ms: drawMs(this.faultRandom, { minMs: min, maxMs: max }) };
  }
}

/**
 * A delay in [minMs, maxMs]: `minMs` plus a whole number of ms, uniformly.
 *
 * @param random - the stream drawn from
 * @param range - the range (`minMs` ≤ `maxMs`)
 * @returns the delay
 */
export function drawMs(random: Random, range: SimLagRange): number {
  const steps = Math.floor(range.maxMs - range.minMs) + 1;
  return range.minMs + Math.floor(random() * steps);
}

function param(fault: TakenFault, name: string): number | undefined {
  const v = fault.params[name];
  return typeof v === "number" ? v : undefined;
}
