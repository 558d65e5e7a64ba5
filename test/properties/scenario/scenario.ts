// The scenario model and its generator: a random portfolio, targets, prices and asset rules,
// market behaviour, rebalancer settings and a fault schedule drawing on every fault of the
// simulated broker, plus outside trades and a crash. A scenario is plain JSON, so a failing
// one prints as its own reproduction; fast-check shrinks it (fewer symbols, fewer faults,
// smaller numbers).

import fc from "fast-check";
import type { ScriptedFault, SimFaultKind } from "ordersafe/testing";

/** One symbol of a scenario. */
export interface ScenarioSymbol {
  symbol: string;
  /** Price, a decimal string. */
  price: string;
  /** Shares held at the start, a decimal string ("0" when flat). */
  qty: string;
  /** Whether the asset is fractionable (whole shares otherwise). */
  fractionable: boolean;
  /** Target weight in basis points of equity (the weights sum to at most 10,000). */
  weightBps: number;
}

/** A fault scripted at `atMs` of virtual time (0: before the run starts). */
export interface ScheduledFault {
  atMs: number;
  fault: ScriptedFault;
}

/** A trade made elsewhere at `atMs`: `fraction` of the position sold (< 0) or bought (> 0). */
export interface OutsideTrade {
  atMs: number;
  symbol: string;
  /** -1..1: a sale of that fraction of the position, or a purchase of that fraction of cash. */
  fraction: number;
}

/**
 * An open limit order placed before the run by someone else (far from the price, so it never
 * fills by itself): an opposite-side one is a conflict the rebalancer must cancel first.
 */
export interface StandingOrder {
  symbol: string;
  side: "buy" | "sell";
  /** Shares (whole). */
  qty: number;
}

/** The whole scenario: JSON, so a failure prints as its reproduction. */
export interface Scenario {
  /** Seeds the broker (partial fills, ids) and the rebalancer (jitter). */
  seed: number;
  /** Starting cash, a decimal string. */
  cash: string;
  symbols: ScenarioSymbol[];
  latency: { restMs: number; fillMs: number; streamMs: number };
  partialFills: { probability: number; parts: number };
  slippageBps: number;
  market: {
    /** Open at the start. */
    open: boolean;
    /** Send orders while closed (the broker queues them). */
    queueWhenClosed: boolean;
    /** When the market flips (opens when closed, closes when open); null: never. */
    flipAtMs: number | null;
  };
  rebalancer: {
    concurrency: number;
    maxRetries: number;
    quietAfterMs: number;
    finalTimeoutMs: number;
    polling: boolean;
    /** Run with an explicit runId (a crash always does). */
    explicitRunId: boolean;
  };
  faults: ScheduledFault[];
  outsideTrades: OutsideTrade[];
  /** Open orders of someone else at the start (client order ids `pre-…`). */
  standingOrders: StandingOrder[];
  /** Abort the run at `atMs`, then resume with a new SmartRebalancer and the same runId. */
  crash: { atMs: number } | null;
  /**
   * Position and account reads lag fills by a delay drawn in [minMs, maxMs] for every read (as
   * a broker's derived reads do); null: they are current. Absent in older scenarios: null.
   */
  readLag?: { minMs: number; maxMs: number } | null;
}

/** The pseudo-kinds beside the broker's faults, counted in the coverage. */
export type CoverageKind =
  | SimFaultKind
  | "lagging_reads"
  | "outside_trade"
  | "crash"
  | "market_closed"
  | "partial_fills"
  | "conflict_cancel"
  | "polling";

export const SYMBOL_POOL = ["AAA", "BBB", "CCC", "DDD"] as const;

const REST_METHODS = [
  "submitOrder",
  "getOrder",
  "getOrderByClientOrderId",
  "listOpenOrders",
  "cancelOrder",
  "getAccount",
  "getPositions",
  "getLatestPrices",
  "closePosition",
] as const;

const times = fc.integer({ min: 1, max: 3 });
const method = fc.option(fc.constantFrom(...REST_METHODS), { nil: undefined });
const withMethod = <T extends { method?: string }>(f: T): T => {
  if (f.method === undefined) delete f.method;
  return f;
};

/** Every kind of simulated-broker fault, with its parameters. */
export const faultArb: fc.Arbitrary<ScriptedFault> = fc.oneof(
  fc
    .record({ kind: fc.constant("unavailable" as const), method, times })
    .map((f) => withMethod(f) as ScriptedFault),
  fc
    .record({ kind: fc.constant("ambiguous" as const), method, times })
    .map((f) => withMethod(f) as ScriptedFault),
  fc
    .record({
      kind: fc.constant("rate_limited" as const),
      method,
      retryAfterMs: fc.integer({ min: 0, max: 1_500 }),
      times,
    })
    .map((f) => withMethod(f) as ScriptedFault),
  fc
    .record({
      kind: fc.constant("latency_spike" as const),
      method,
      ms: fc.integer({ min: 0, max: 3_000 }),
      times,
    })
    .map((f) => withMethod(f) as ScriptedFault),
  fc.record({ kind: fc.constant("not_found_lag" as const), ms: fc.integer({ min: 0, max: 2_000 }), times }),
  fc.record({ kind: fc.constant("stream_drop" as const), times }),
  fc.record({ kind: fc.constant("stream_duplicate" as const), times }),
  fc.record({ kind: fc.constant("stream_reorder" as const), times }),
  fc.record({ kind: fc.constant("stream_delay" as const), ms: fc.integer({ min: 0, max: 1_500 }), times }),
  fc.record({ kind: fc.constant("stream_disconnect" as const), downMs: fc.integer({ min: 0, max: 5_000 }) }),
  fc.record({ kind: fc.constant("stream_silence" as const), ms: fc.integer({ min: 0, max: 5_000 }) }),
  fc
    .record({
      kind: fc.constant("stale_reads" as const),
      ms: fc.integer({ min: 100, max: 5_000 }),
      method: fc.option(fc.constantFrom("getAccount", "getPositions", "getPosition"), { nil: undefined }),
      times,
    })
    .map((f) => withMethod(f) as ScriptedFault),
  fc.record({ kind: fc.constant("fill_after_cancel" as const), times }),
  fc.record({ kind: fc.constant("stuck_pending_cancel" as const), times }),
  fc.record({ kind: fc.constant("reject_after_accept" as const), times }),
);

const price = fc.integer({ min: 100, max: 50_000 }).map((c) => (c / 100).toFixed(2));

const symbolArb = (symbol: string): fc.Arbitrary<ScenarioSymbol> =>
  fc
    .record({
      price,
      fractionable: fc.boolean(),
      held: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60 })),
      frac: fc.integer({ min: 0, max: 999_999 }),
      weight: fc.integer({ min: 0, max: 10 }),
    })
    .map(({ price, fractionable, held, frac, weight }) => ({
      symbol,
      price,
      // Fractionable holdings may carry odd decimals (dust, leftovers of notional buys).
      qty: held === 0 ? "0" : fractionable && frac % 3 === 0 ? `${held}.${frac}` : `${held}`,
      fractionable,
      weightBps: weight,
    }));

/** The scenario generator (a fast-check arbitrary: seeded and shrinkable). */
export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    cash: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20_000 })),
    symbols: fc
      .subarray([...SYMBOL_POOL], { minLength: 1, maxLength: 4 })
      .chain((names) => fc.tuple(...names.map(symbolArb))),
    cashWeight: fc.integer({ min: 0, max: 10 }),
    latency: fc.record({
      restMs: fc.integer({ min: 0, max: 30 }),
      fillMs: fc.integer({ min: 0, max: 300 }),
      streamMs: fc.integer({ min: 0, max: 10 }),
    }),
    partialFills: fc.record({
      probability: fc.constantFrom(0, 0, 0.3, 1),
      parts: fc.integer({ min: 2, max: 3 }),
    }),
    slippageBps: fc.constantFrom(0, 0, 5, 50),
    market: fc.oneof(
      { weight: 8, arbitrary: fc.constant({ open: true, queueWhenClosed: false, flipAtMs: null }) },
      {
        weight: 2,
        arbitrary: fc.record({
          open: fc.boolean(),
          queueWhenClosed: fc.boolean(),
          flipAtMs: fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: null }),
        }),
      },
    ),
    rebalancer: fc.record({
      concurrency: fc.integer({ min: 1, max: 4 }),
      maxRetries: fc.integer({ min: 1, max: 3 }),
      quietAfterMs: fc.integer({ min: 200, max: 5_000 }),
      finalTimeoutMs: fc.integer({ min: 5_000, max: 30_000 }),
      polling: fc.constantFrom(false, false, false, true),
      explicitRunId: fc.boolean(),
    }),
    faults: fc.array(
      fc.record({
        atMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3_000 })),
        fault: faultArb,
      }),
      { maxLength: 5 },
    ),
    outsideTrades: fc.array(
      fc.record({
        atMs: fc.integer({ min: 0, max: 3_000 }),
        symbol: fc.constantFrom(...SYMBOL_POOL),
        fraction: fc.integer({ min: -100, max: 50 }).map((n) => n / 100),
      }),
      { maxLength: 1 },
    ),
    standingOrders: fc.array(
      fc.record({
        symbol: fc.constantFrom(...SYMBOL_POOL),
        side: fc.constantFrom("buy" as const, "sell" as const),
        qty: fc.integer({ min: 1, max: 3 }),
      }),
      { maxLength: 2 },
    ),
    crash: fc.option(fc.record({ atMs: fc.integer({ min: 0, max: 2_500 }) }), { nil: null, freq: 6 }),
    // In about half the scenarios position and account reads lag fills by up to 3 s.
    readLag: fc.option(
      fc
        .tuple(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 3_000 }))
        .map(([a, b]) => ({ minMs: Math.min(a, b), maxMs: Math.max(a, b) })),
      { nil: null, freq: 2 },
    ),
  })
  .map(({ cashWeight, symbols, ...rest }) => {
    const total = symbols.reduce((a, s) => a + s.weightBps, 0) + cashWeight;
    const scaled = symbols.map((s) => ({
      ...s,
      weightBps: total === 0 ? 0 : Math.floor((s.weightBps * 10_000) / total),
    }));
    return { ...rest, cash: `${rest.cash}`, symbols: scaled };
  });

/** The coverage kinds a scenario exercises by construction (the applied faults come from the log). */
export function scheduledKinds(s: Scenario): CoverageKind[] {
  const kinds = new Set<CoverageKind>(s.faults.map((f) => f.fault.kind));
  if (s.outsideTrades.length > 0) kinds.add("outside_trade");
  if (s.crash !== null) kinds.add("crash");
  if (!s.market.open || s.market.flipAtMs !== null) kinds.add("market_closed");
  if (s.partialFills.probability > 0) kinds.add("partial_fills");
  return [...kinds];
}
