import { z } from "zod";
import { BROKER_METHODS, type BrokerMethod } from "../../broker/broker-port.js";
import type { Clock } from "../../core/clock.js";
import { Decimal, type DecimalLike } from "../../core/decimal.js";
import { parseInput, zClock, zNonNegativeDecimal, zPositiveDecimal, zSymbol } from "../../core/validation.js";
import { VirtualClock } from "../virtual-clock.js";
import type { QuoteSettings } from "./quote-model.js";

/**
 * The methods whose replies a `stale_reads` or `read_lag` fault (and the `readLag` option)
 * make stale: the reads a broker derives from its positions and balances (order reads come
 * from the order book and stay current).
 *
 * @example
 * ```ts
 * for (const method of STALE_READ_METHODS) broker.script({ kind: "stale_reads", ms: 500, method });
 * ```
 */
export const STALE_READ_METHODS = ["getAccount", "getPositions", "getPosition"] as const;

/** One of {@link STALE_READ_METHODS}. */
export type StaleReadMethod = (typeof STALE_READ_METHODS)[number];

/**
 * Every {@link SimFaultKind}, in a stable order: seeded faults are drawn in this order, so
 * the same seed faults the same way however the options object was written.
 *
 * @example
 * ```ts
 * SIM_FAULT_KINDS.includes("ambiguous"); // true
 * ```
 */
export const SIM_FAULT_KINDS = [
  "unavailable",
  "ambiguous",
  "rate_limited",
  "latency_spike",
  "not_found_lag",
  "stream_drop",
  "stream_duplicate",
  "stream_reorder",
  "stream_delay",
  "stream_disconnect",
  "stream_silence",
  "stale_reads",
  "read_lag",
  "fill_after_cancel",
  "stuck_pending_cancel",
  "reject_after_accept",
  "fill_before_replace",
] as const;

/**
 * How `broker.corruptReplies()` spoils a write's reply (the order itself is placed as sent):
 * - `unknown_status`: status `pending_review`, which the contract does not know;
 * - `nan_filled_qty`: `filledQty` NaN;
 * - `invalid_date`: `updatedAt` not a date;
 * - `size_x10`: ten times the quantity (or notional) sent;
 * - `other_symbol`: another symbol; `other_side`: the other side;
 * - `other_client_order_id`: another client order id.
 *
 * @example
 * ```ts
 * broker.corruptReplies({ method: "submitOrder", change: REPLY_CORRUPTIONS[3] });
 * ```
 */
export const REPLY_CORRUPTIONS = [
  "unknown_status",
  "nan_filled_qty",
  "invalid_date",
  "size_x10",
  "other_symbol",
  "other_side",
  "other_client_order_id",
] as const;

/** One of {@link REPLY_CORRUPTIONS}. */
export type ReplyCorruption = (typeof REPLY_CORRUPTIONS)[number];

/** Schema of {@link ReplyCorruptionScript}. */
export const ReplyCorruptionScriptSchema = z
  .object({
    method: z.enum(["submitOrder", "closePosition"]).optional(),
    change: z.enum(REPLY_CORRUPTIONS),
    times: z.number().int().min(1).optional(),
  })
  .strict();

/**
 * What `broker.corruptReplies()` takes: the next `times` (default 1) replies of `method`
 * (default either write that returns an order) are spoilt as `change` says.
 */
export type ReplyCorruptionScript = z.input<typeof ReplyCorruptionScriptSchema>;

/**
 * Every kind of fault the simulated broker can inject (see {@link ScriptedFault} for each).
 *
 * @example
 * ```ts
 * const kind: SimFaultKind = "stream_drop";
 * ```
 */
export type SimFaultKind = (typeof SIM_FAULT_KINDS)[number];

/**
 * The default of every option of `createSimulatedBroker` that has one, and of every fault
 * parameter left out. {@link SimulatedBrokerOptions} cites these; the broker reads them here.
 *
 * @remarks
 * - `partialFills`: off unless given; `true` or an object turns them on, with `probability`
 *   and `parts` from here unless given.
 * - `asset`: the rules of a symbol known only by its price (or given partial rules):
 *   fractionable assets trade in `fractionalIncrement`s, whole-share ones in `wholeIncrement`s.
 * - `faults`: the parameters a fault of that kind takes when it does not say (a seeded
 *   `read_lag` draws its delay in [`minMs`, `maxMs`]).
 * @example
 * ```ts
 * createSimulatedBroker({ cash: SIMULATED_BROKER_DEFAULTS.cash * 2 });
 * ```
 */
export const SIMULATED_BROKER_DEFAULTS = {
  id: "simulated",
  seed: 1,
  cash: 100_000,
  latency: { restMs: 0, fillMs: 0, streamMs: 0 },
  partialFills: { on: false, probability: 1, parts: 2 },
  slippageBps: 0,
  quotes: {
    spreadBps: 10,
    volatilityBps: 0,
    stepMs: 1000,
    staleProbability: 0,
    staleMs: 5000,
    crossedProbability: 0,
    missingProbability: 0,
    passiveFillProbability: 0.2,
  },
  marketOpen: true,
  marketBuyBuffer: 0.03,
  asset: {
    tradable: true,
    fractionable: true,
    fractionalIncrement: "0.000000001",
    wholeIncrement: 1,
    minNotional: 1,
  },
  faults: {
    rate_limited: { retryAfterMs: 1000 },
    latency_spike: { ms: 1000 },
    not_found_lag: { ms: 500 },
    stream_delay: { ms: 500 },
    stream_disconnect: { downMs: 1000 },
    stream_silence: { ms: 2000 },
    stale_reads: { ms: 1000 },
    read_lag: { minMs: 0, maxMs: 1000 },
    reject_after_accept: { reason: "rejected by the simulated venue" },
  },
} as const;

/** The list as a non-empty tuple, which `z.enum` needs. */
function nonEmpty<T>(list: readonly T[]): [T, ...T[]] {
  const [first, ...rest] = list;
  if (first === undefined) throw new Error("[ordersafe] expected a non-empty list");
  return [first, ...rest];
}

const zMethod = z.enum(nonEmpty<BrokerMethod>(BROKER_METHODS));
const zStaleMethod = z.enum(STALE_READ_METHODS);
const zMs = z.number().finite().min(0);
const zTimes = z.number().int().min(1).optional();

/** A delay range in ms, `minMs` ≤ `maxMs`. */
const zLagRange = z
  .object({ minMs: zMs, maxMs: zMs })
  .strict()
  .refine((r) => r.minMs <= r.maxMs, { message: "expected minMs ≤ maxMs", path: ["maxMs"] });

/** Refuses `minMs` above `maxMs` where both are given. */
function orderedRange(r: { minMs?: number | undefined; maxMs?: number | undefined }, ctx: z.RefinementCtx) {
  if (r.minMs !== undefined && r.maxMs !== undefined && r.minMs > r.maxMs) {
    ctx.addIssue({ code: "custom", path: ["maxMs"], message: "expected minMs ≤ maxMs" });
  }
}

/** Schema of a {@link ScriptedFault}. */
export const ScriptedFaultSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("unavailable"), method: zMethod.optional(), times: zTimes }).strict(),
  z.object({ kind: z.literal("ambiguous"), method: zMethod.optional(), times: zTimes }).strict(),
  z
    .object({
      kind: z.literal("rate_limited"),
      method: zMethod.optional(),
      retryAfterMs: zMs.optional(),
      times: zTimes,
    })
    .strict(),
  z.object({ kind: z.literal("latency_spike"), method: zMethod.optional(), ms: zMs, times: zTimes }).strict(),
  z.object({ kind: z.literal("not_found_lag"), ms: zMs, times: zTimes }).strict(),
  z.object({ kind: z.literal("stream_drop"), times: zTimes }).strict(),
  z.object({ kind: z.literal("stream_duplicate"), times: zTimes }).strict(),
  z.object({ kind: z.literal("stream_reorder"), times: zTimes }).strict(),
  z.object({ kind: z.literal("stream_delay"), ms: zMs, times: zTimes }).strict(),
  z.object({ kind: z.literal("stream_disconnect"), downMs: zMs, times: zTimes }).strict(),
  z.object({ kind: z.literal("stream_silence"), ms: zMs, times: zTimes }).strict(),
  z
    .object({ kind: z.literal("stale_reads"), ms: zMs, method: zStaleMethod.optional(), times: zTimes })
    .strict(),
  z
    .object({
      kind: z.literal("read_lag"),
      method: zStaleMethod.optional(),
      minMs: zMs,
      maxMs: zMs,
      times: zTimes,
    })
    .strict()
    .superRefine(orderedRange),
  z.object({ kind: z.literal("fill_after_cancel"), times: zTimes }).strict(),
  z.object({ kind: z.literal("stuck_pending_cancel"), times: zTimes }).strict(),
  z
    .object({ kind: z.literal("reject_after_accept"), reason: z.string().min(1).optional(), times: zTimes })
    .strict(),
  z.object({ kind: z.literal("fill_before_replace"), times: zTimes }).strict(),
]);

/**
 * A fault applied to the next matching call or event (`times` of them, default 1).
 *
 * @remarks
 * - `unavailable`: the REST call throws `BrokerError("unavailable")` and has no effect.
 * - `ambiguous`: the call takes effect, then throws `BrokerError("ambiguous")`.
 * - `rate_limited`: throws `BrokerError("rate_limited")` with `retryAfterMs`, no effect.
 * - `latency_spike`: the call takes `ms` longer.
 * - `not_found_lag`: the next new order is invisible to lookups and `listOpenOrders` for `ms`.
 * - `stream_drop` / `stream_duplicate`: the next update is not delivered / delivered twice.
 * - `stream_reorder`: the next update is delivered after the one following it.
 * - `stream_delay`: the next update is delivered `ms` late.
 * - `stream_disconnect`: at the next update every subscription goes `disconnected`,
 *   `reconnecting`, then `connected` after `downMs`; updates meanwhile are lost.
 * - `stream_silence`: from the next update, nothing is delivered for `ms` (still "connected").
 * - `stale_reads`: the next `getAccount` / `getPositions` / `getPosition` (or only `method`)
 *   returns the state as of `ms` ago.
 * - `read_lag`: the next `getAccount` / `getPositions` / `getPosition` (or only `method`)
 *   returns the state as of a delay drawn in [`minMs`, `maxMs`] ago (whole ms, from a seeded
 *   stream of its own); logged as a `fault` with the delay `ms`.
 * - `fill_after_cancel`: the next cancel is accepted, the order is `canceled`, and a fill
 *   of the rest still arrives after it.
 * - `stuck_pending_cancel`: the next cancel leaves the order `pending_cancel` (it can still fill).
 * - `reject_after_accept`: the next order is acknowledged `new`, then `rejected` with `reason`.
 * - `fill_before_replace`: the next replace arrives after the order filled its rest: the order
 *   ends `filled` and the replace is refused (`not_cancelable`), as when a fill races a replace.
 *
 * A parameter left out takes its value from `SIMULATED_BROKER_DEFAULTS.faults`. Invalid faults make `script()` throw `ValidationError` (`validation`).
 *
 * @example
 * ```ts
 * broker.script({ kind: "ambiguous", method: "submitOrder" });
 * broker.script({ kind: "stream_drop", times: 3 });
 * broker.script({ kind: "stale_reads", ms: 2_000, method: "getPositions" });
 * broker.script({ kind: "read_lag", minMs: 40, maxMs: 1_000, method: "getAccount", times: 5 });
 * ```
 */
export type ScriptedFault = z.input<typeof ScriptedFaultSchema>;

const probability = z.number().min(0).max(1);
const faultSetting = <T extends z.ZodRawShape>(shape: T) =>
  z.union([probability, z.object({ probability, ...shape }).strict()]).optional();
const readLagSetting = z
  .union([
    probability,
    z
      .object({ probability, minMs: zMs.optional(), maxMs: zMs.optional(), method: zStaleMethod.optional() })
      .strict()
      .superRefine(orderedRange),
  ])
  .optional();

/** Schema of {@link SimFaultOptions}. */
export const SimFaultOptionsSchema = z
  .object({
    unavailable: faultSetting({ method: zMethod.optional() }),
    ambiguous: faultSetting({ method: zMethod.optional() }),
    rate_limited: faultSetting({ method: zMethod.optional(), retryAfterMs: zMs.optional() }),
    latency_spike: faultSetting({ method: zMethod.optional(), ms: zMs.optional() }),
    not_found_lag: faultSetting({ ms: zMs.optional() }),
    stream_drop: faultSetting({}),
    stream_duplicate: faultSetting({}),
    stream_reorder: faultSetting({}),
    stream_delay: faultSetting({ ms: zMs.optional() }),
    stream_disconnect: faultSetting({ downMs: zMs.optional() }),
    stream_silence: faultSetting({ ms: zMs.optional() }),
    stale_reads: faultSetting({ ms: zMs.optional(), method: zStaleMethod.optional() }),
    read_lag: readLagSetting,
    fill_after_cancel: faultSetting({}),
    stuck_pending_cancel: faultSetting({}),
    reject_after_accept: faultSetting({ reason: z.string().min(1).optional() }),
    fill_before_replace: faultSetting({}),
  })
  .strict();

/**
 * Seeded fault probabilities: each kind is a probability in [0, 1] per matching call or
 * event, or `{ probability, ...parameters }` (the parameters of {@link ScriptedFault}).
 *
 * @defaultValue every probability 0; parameters from `SIMULATED_BROKER_DEFAULTS.faults`
 *   (`rate_limited.retryAfterMs` 1000, `latency_spike.ms` 1000, `not_found_lag.ms` 500,
 *   `stream_delay.ms` 500, `stream_disconnect.downMs` 1000, `stream_silence.ms` 2000,
 *   `stale_reads.ms` 1000, `read_lag` 0 to 1000 ms; a `read_lag` given only a `minMs`
 *   above 1000 lags exactly `minMs`)
 * @remarks Draws come from the seed in a fixed order of kinds, so the same seed and the same
 *   calls fault the same way every run.
 * @example
 * ```ts
 * createSimulatedBroker({ seed: 7, faults: { unavailable: 0.05, latency_spike: { probability: 0.2, ms: 800 } } });
 * ```
 */
export type SimFaultOptions = z.input<typeof SimFaultOptionsSchema>;

/** Schema of an asset's rules given in part (`assets`, `setAssetRules`). */
export const AssetOverrideSchema = z
  .object({
    tradable: z.boolean().optional(),
    fractionable: z.boolean().optional(),
    qtyIncrement: zPositiveDecimal.optional(),
    minNotional: zNonNegativeDecimal.optional(),
  })
  .strict();

/** Schema of {@link SimQuoteOptions}. */
export const SimQuoteOptionsSchema = z
  .object({
    spreadBps: z.number().finite().min(0).max(10_000).optional(),
    volatilityBps: z.number().finite().min(0).max(1_000).optional(),
    stepMs: z.number().int().min(1).optional(),
    staleProbability: probability.optional(),
    staleMs: zMs.optional(),
    crossedProbability: probability.optional(),
    missingProbability: probability.optional(),
    passiveFillProbability: probability.optional(),
  })
  .strict();

/**
 * The quote model (option `quotes`): a bid and ask around a mid that walks.
 *
 * @remarks
 * - The mid starts at each price set (`prices`, `setPrice`) and moves every `stepMs` by a
 *   seeded normal draw of `volatilityBps` (0: it stays); the bid and ask sit `spreadBps`
 *   apart around it, on a price tick.
 * - Market buys fill at the ask, market sells at the bid (plus `slippage`); a limit order
 *   fills while the far touch is at or through its limit, at the touch (never through the
 *   limit); a resting limit inside the spread fills at its limit with the chance
 *   `passiveFillProbability` per step, scaled by how far it sits toward the far touch.
 * - Reads (`getLatestQuotes`) may answer a stale quote (`staleProbability`, `staleMs` old),
 *   a crossed one (`crossedProbability`) or none (`missingProbability`), each a seeded draw
 *   of its own; fills always see the true quote.
 * - Prices (`getLatestPrices`, valuations, holds) are the mid.
 *
 * @defaultValue `SIMULATED_BROKER_DEFAULTS.quotes` for each field left out (spread 10 bps, no
 *   moves, steps of 1000 ms, no read faults, passive fills 0.2)
 * @example
 * ```ts
 * createSimulatedBroker({ prices: { SPY: 500 }, quotes: { spreadBps: 4, volatilityBps: 2, stepMs: 1_000 } });
 * ```
 */
export type SimQuoteOptions = z.input<typeof SimQuoteOptionsSchema>;

/** Schema of {@link SimulatedBrokerOptions}. */
export const SimulatedBrokerOptionsSchema = z
  .object({
    id: z.string().min(1).optional(),
    clock: zClock.optional(),
    seed: z.number().int().optional(),
    cash: zNonNegativeDecimal.optional(),
    positions: z.record(zSymbol, zNonNegativeDecimal).optional(),
    prices: z.record(zSymbol, zPositiveDecimal).optional(),
    assets: z.record(zSymbol, AssetOverrideSchema).optional(),
    latency: z
      .object({ restMs: zMs.optional(), fillMs: zMs.optional(), streamMs: zMs.optional() })
      .strict()
      .optional(),
    partialFills: z
      .union([
        z.boolean(),
        z
          .object({ probability: probability.optional(), parts: z.number().int().min(2).max(100).optional() })
          .strict(),
      ])
      .optional(),
    slippage: z
      .object({ bps: z.number().finite().min(0).max(5000) })
      .strict()
      .optional(),
    quotes: SimQuoteOptionsSchema.optional(),
    marketOpen: z.boolean().optional(),
    marketBuyBuffer: z.number().finite().min(0).max(1).optional(),
    faults: SimFaultOptionsSchema.optional(),
    readLag: z
      .object({
        getAccount: zLagRange.optional(),
        getPositions: zLagRange.optional(),
        getPosition: zLagRange.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    for (const symbol of Object.keys(o.positions ?? {})) {
      if (o.prices?.[symbol] === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["positions", symbol],
          message: "a position needs a price in options.prices",
        });
      }
    }
  });

/**
 * Options of `createSimulatedBroker`. Every field is optional; bad values make it throw
 * `ValidationError` (`validation`).
 *
 * @example
 * ```ts
 * const options: SimulatedBrokerOptions = {
 *   clock, seed: 1, cash: 10_000, prices: { FNGU: 33.05 }, positions: { FNGU: "1591.166892" },
 *   latency: { restMs: 50, fillMs: 200 }, partialFills: { probability: 0.3, parts: 2 },
 * };
 * ```
 */
export interface SimulatedBrokerOptions {
  /** The port's id. @defaultValue `SIMULATED_BROKER_DEFAULTS.id` ("simulated") */
  id?: string;
  /** The clock every delay runs on. @defaultValue a new `VirtualClock` */
  clock?: Clock;
  /** Seeds every random choice (faults, partial fills, ids). @defaultValue `SIMULATED_BROKER_DEFAULTS.seed` (1) */
  seed?: number;
  /** Starting cash (no margin: buying power never exceeds it). @defaultValue `SIMULATED_BROKER_DEFAULTS.cash` (100000) */
  cash?: DecimalLike;
  /** Starting positions, symbol → shares (each needs a price); avgEntryPrice = price. @defaultValue {} */
  positions?: Record<string, DecimalLike>;
  /** Prices, symbol → price > 0. Every priced symbol is a tradable, fractionable asset. @defaultValue {} */
  prices?: Record<string, DecimalLike>;
  /**
   * Asset rule overrides, symbol → partial rules; a symbol listed here exists even without a
   * price. `fractionable: false` makes the increment 1 unless given.
   * @defaultValue `SIMULATED_BROKER_DEFAULTS.asset`: tradable, fractionable, qtyIncrement
   *   0.000000001 (1 when not fractionable), minNotional 1
   */
  assets?: Record<
    string,
    { tradable?: boolean; fractionable?: boolean; qtyIncrement?: DecimalLike; minNotional?: DecimalLike }
  >;
  /**
   * Delays in ms: `restMs` per REST reply (and from submit to the `new` ack, and from a cancel
   * request to `canceled`), `fillMs` from the ack to each fill, `streamMs` from an event to
   * its delivery. @defaultValue `SIMULATED_BROKER_DEFAULTS.latency` (all 0)
   */
  latency?: { restMs?: number; fillMs?: number; streamMs?: number };
  /**
   * Partial fills: with `probability` an order fills in `parts` fills, `fillMs` apart.
   * `true` = `{ probability: 1, parts: 2 }`. @defaultValue false; when on, probability and
   *   parts from `SIMULATED_BROKER_DEFAULTS.partialFills` (1 and 2)
   */
  partialFills?: boolean | { probability?: number; parts?: number };
  /** Fill prices move against the order by `bps` basis points. @defaultValue `{ bps: SIMULATED_BROKER_DEFAULTS.slippageBps }` (0) */
  slippage?: { bps: number };
  /**
   * A quote model: bid and ask around a walking mid; fills at the touch; resting limits fill
   * when the market reaches them. See {@link SimQuoteOptions}.
   * @defaultValue none: quotes are the last price on both sides (zero spread), and orders
   *   fill at the last price, exactly as without quotes
   */
  quotes?: SimQuoteOptions;
  /** Whether the market is open; closed queues orders as `accepted`. @defaultValue `SIMULATED_BROKER_DEFAULTS.marketOpen` (true) */
  marketOpen?: boolean;
  /** The hold on quantity market buys, as a fraction of the price. @defaultValue `SIMULATED_BROKER_DEFAULTS.marketBuyBuffer` (0.03) */
  marketBuyBuffer?: number;
  /** Seeded fault probabilities. @defaultValue none */
  faults?: SimFaultOptions;
  /**
   * Position and account reads that lag fills like a broker's: every read of a listed
   * endpoint answers with the state as of a delay drawn in [`minMs`, `maxMs`] ago (whole ms,
   * from a seeded stream of its own, so configuring it shifts no other draw), and logs a
   * `fault` `read_lag` (`source: "option"`) with the delay `ms`. Order reads stay current.
   * With a `stale_reads` or `read_lag` fault on the same read, the longest delay wins.
   * @defaultValue none: reads are current
   */
  readLag?: SimReadLag;
}

/**
 * How much each position and account endpoint lags fills (option `readLag`).
 *
 * @example
 * ```ts
 * const readLag: SimReadLag = { getPositions: { minMs: 40, maxMs: 1_000 }, getAccount: { minMs: 0, maxMs: 2_000 } };
 * ```
 */
export type SimReadLag = { readonly [M in StaleReadMethod]?: SimLagRange };

/** A delay range in ms: `minMs` ≤ `maxMs`. */
export interface SimLagRange {
  /** The shortest delay. */
  readonly minMs: number;
  /** The longest delay. */
  readonly maxMs: number;
}

export { BROKER_METHODS, type BrokerMethod };

/** The options of `createSimulatedBroker` once parsed, every default filled in from {@link SIMULATED_BROKER_DEFAULTS}. */
export interface SimSettings {
  readonly id: string;
  /** The clock given, or a new `VirtualClock`. */
  readonly clock: Clock;
  readonly seed: number;
  readonly cash: Decimal;
  /** Starting prices, in the order given. */
  readonly prices: readonly (readonly [string, Decimal])[];
  /** Asset rule overrides, in the order given (defaults filled in by the market). */
  readonly assets: readonly (readonly [string, z.output<typeof AssetOverrideSchema>])[];
  /** Starting positions, in the order given (each has a price). */
  readonly positions: readonly (readonly [string, Decimal])[];
  readonly restMs: number;
  readonly fillMs: number;
  readonly streamMs: number;
  /** The chance an order fills in parts (0 when partial fills are off). */
  readonly partialProbability: number;
  readonly partialParts: number;
  readonly slippageBps: number;
  /** The quote model's settings, or undefined without one. */
  readonly quotes: QuoteSettings | undefined;
  readonly marketOpen: boolean;
  readonly marketBuyBuffer: Decimal;
  readonly faults: z.output<typeof SimFaultOptionsSchema> | undefined;
  /** The lag of each position and account endpoint (none: current). */
  readonly readLag: SimReadLag;
}

/**
 * Parses the options of `createSimulatedBroker` and fills in the defaults.
 *
 * @param options - the options given
 * @returns the settings
 * @throws ValidationError (`validation`) for bad options
 */
export function simSettings(options: SimulatedBrokerOptions): SimSettings {
  const o = parseInput(SimulatedBrokerOptionsSchema, options ?? {}, "options");
  const D = SIMULATED_BROKER_DEFAULTS;
  const partial = o.partialFills ?? D.partialFills.on;
  return {
    id: o.id ?? D.id,
    clock: o.clock ?? new VirtualClock(),
    seed: o.seed ?? D.seed,
    cash: o.cash ?? new Decimal(D.cash),
    prices: Object.entries(o.prices ?? {}),
    assets: Object.entries(o.assets ?? {}),
    positions: Object.entries(o.positions ?? {}),
    restMs: o.latency?.restMs ?? D.latency.restMs,
    fillMs: o.latency?.fillMs ?? D.latency.fillMs,
    streamMs: o.latency?.streamMs ?? D.latency.streamMs,
    partialProbability:
      partial === false
        ? 0
        : partial === true
          ? D.partialFills.probability
          : (partial.probability ?? D.partialFills.probability),
    partialParts:
      typeof partial === "object" ? (partial.parts ?? D.partialFills.parts) : D.partialFills.parts,
    slippageBps: o.slippage?.bps ?? D.slippageBps,
    quotes: quoteSettings(o.quotes),
    marketOpen: o.marketOpen ?? D.marketOpen,
    marketBuyBuffer: new Decimal(o.marketBuyBuffer ?? D.marketBuyBuffer),
    faults: o.faults,
    readLag: o.readLag ?? {},
  };
}

/** The quote model's settings: each field given, else its default; undefined without the option. */
function quoteSettings(q: z.output<typeof SimQuoteOptionsSchema> | undefined): QuoteSettings | undefined {
  if (q === undefined) return undefined;
  const D = SIMULATED_BROKER_DEFAULTS.quotes;
  return {
    spreadBps: q.spreadBps ?? D.spreadBps,
    volatilityBps: q.volatilityBps ?? D.volatilityBps,
    stepMs: q.stepMs ?? D.stepMs,
    staleProbability: q.staleProbability ?? D.staleProbability,
    staleMs: q.staleMs ?? D.staleMs,
    crossedProbability: q.crossedProbability ?? D.crossedProbability,
    missingProbability: q.missingProbability ?? D.missingProbability,
    passiveFillProbability: q.passiveFillProbability ?? D.passiveFillProbability,
  };
}
