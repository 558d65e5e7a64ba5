import type { z } from "zod";
import type { BrokerMethod } from "../../broker/broker-port.js";
import { createRandom, type Random } from "../../core/random.js";
import type { EventLog } from "./event-log.js";
import {
  type ScriptedFaultSchema,
  SIM_FAULT_KINDS,
  type SimFaultKind,
  type SimFaultOptionsSchema,
} from "./options.js";

/** The faults a REST call can meet before its effect (`ambiguous` lets the effect happen). */
export const REST_ERROR_FAULTS = [
  "unavailable",
  "rate_limited",
  "ambiguous",
] as const satisfies readonly SimFaultKind[];

/** The faults an order update can meet on its way to the subscribers. */
export const STREAM_FAULTS = [
  "stream_drop",
  "stream_duplicate",
  "stream_reorder",
  "stream_delay",
  "stream_disconnect",
  "stream_silence",
] as const satisfies readonly SimFaultKind[];

/** A fault that applies now: its kind and the parameters it was given (defaults not filled in). */
export interface TakenFault {
  readonly kind: SimFaultKind;
  readonly params: Readonly<Record<string, unknown>>;
}

type ParsedScriptedFault = z.output<typeof ScriptedFaultSchema>;
type ParsedFaultOptions = z.output<typeof SimFaultOptionsSchema>;

interface ScriptEntry {
  readonly fault: ParsedScriptedFault;
  left: number;
}

interface SeededFault extends TakenFault {
  readonly probability: number;
}

/**
 * The faults the broker will inject: the scripted queue (`broker.script()`), consumed first,
 * then the seeded probabilities of the options, drawn from their own random source in the
 * fixed order of `SIM_FAULT_KINDS`.
 *
 * @remarks Every fault taken is logged (`fault`, with its `source` and the `method`), and the
 * number of draws depends only on the calls made, so a seed replays the same faults.
 */
export class FaultPlan {
  private readonly random: Random;
  private readonly seeded: readonly SeededFault[];
  private readonly scripted: ScriptEntry[] = [];

  /**
   * @param seed - seeds the draws of the seeded faults
   * @param options - the seeded fault probabilities (parsed options)
   * @param log - where taken faults are logged
   */
  constructor(
    seed: number,
    options: ParsedFaultOptions | undefined,
    private readonly log: EventLog,
  ) {
    this.random = createRandom(seed);
    this.seeded = seededFaults(options);
  }

  /** Queues a (parsed) fault for the next `times` matching calls or events. */
  script(fault: ParsedScriptedFault): void {
    this.scripted.push({ fault, left: fault.times ?? 1 });
  }

  /**
   * Takes the fault that applies to this call or event, if any: the first scripted one of
   * the kinds, else a draw for each seeded one of the kinds, in order, until one hits.
   *
   * @param kinds - the kinds that can apply here
   * @param method - the call; faults bound to another method do not apply (none given: any)
   * @param resolve - turns the fault's parameters into the values it applies with (a delay
   *   drawn in a range): added to its parameters and to its log entry
   * @returns the fault, or undefined
   */
  take(
    kinds: readonly SimFaultKind[],
    method?: BrokerMethod,
    resolve?: (fault: TakenFault) => Readonly<Record<string, number>>,
  ): TakenFault | undefined {
    const applies = (kind: SimFaultKind, boundTo: unknown) =>
      kinds.includes(kind) && (boundTo === undefined || method === undefined || boundTo === method);
    const i = this.scripted.findIndex((e) => applies(e.fault.kind, methodOf(e.fault)));
    const entry = this.scripted[i];
    if (entry !== undefined) {
      entry.left--;
      if (entry.left <= 0) this.scripted.splice(i, 1);
      const { kind, times: _times, ...params } = entry.fault;
      return this.taken({ kind, params }, "script", method, resolve);
    }
    for (const f of this.seeded) {
      if (!applies(f.kind, f.params.method)) continue;
      if (this.random() < f.probability) return this.taken(f, "seed", method, resolve);
    }
    return undefined;
  }

  /** Logs a fault taken (with what `resolve` made of it) and returns it. */
  private taken(
    fault: TakenFault,
    source: "script" | "seed",
    method: BrokerMethod | undefined,
    resolve: ((fault: TakenFault) => Readonly<Record<string, number>>) | undefined,
  ): TakenFault {
    const resolved = resolve?.(fault);
    this.log.record("fault", { kind: fault.kind, source, method: method ?? null, ...resolved });
    return resolved === undefined
      ? { kind: fault.kind, params: fault.params }
      : { kind: fault.kind, params: { ...fault.params, ...resolved } };
  }
}

/**
 * A numeric parameter of a fault, or its default when the fault does not give it.
 *
 * @param fault - the fault taken
 * @param name - the parameter (`ms`, `downMs`, `retryAfterMs`)
 * @param fallback - its default (from `SIMULATED_BROKER_DEFAULTS.faults`)
 * @returns the value
 */
export function faultNumber(fault: TakenFault, name: string, fallback: number): number {
  const v = fault.params[name];
  return typeof v === "number" ? v : fallback;
}

/**
 * A text parameter of a fault, or its default when the fault does not give it.
 *
 * @param fault - the fault taken
 * @param name - the parameter (`reason`)
 * @param fallback - its default (from `SIMULATED_BROKER_DEFAULTS.faults`)
 * @returns the value
 */
export function faultText(fault: TakenFault, name: string, fallback: string): string {
  const v = fault.params[name];
  return typeof v === "string" ? v : fallback;
}

function methodOf(fault: ParsedScriptedFault): BrokerMethod | undefined {
  return "method" in fault ? fault.method : undefined;
}

/** The seeded faults with a probability above 0, in the order of `SIM_FAULT_KINDS`. */
function seededFaults(options: ParsedFaultOptions | undefined): SeededFault[] {
  const out: SeededFault[] = [];
  for (const kind of SIM_FAULT_KINDS) {
    const setting = options?.[kind];
    if (setting === undefined) continue;
    const { probability, ...params } = typeof setting === "number" ? { probability: setting } : setting;
    if (probability > 0) out.push({ kind, probability, params });
  }
  return out;
}
