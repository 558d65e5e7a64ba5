import * as fc from "fast-check";
import {
  calculateRebalanceOrders,
  Decimal,
  type RebalanceInputInput,
  RebalanceInputSchema,
  type RebalancePlan,
} from "ordersafe";
import { describe, expect, it } from "vitest";
import { referencePlan } from "../rebalance/reference-planner.js";

// The planner computes on exact scaled integers; the reference is its former decimal.js
// implementation of the same rules (40 significant digits). Over random portfolios the two
// must give the same legs, skips, conflicts and summary.

const SEED = Number(process.env.FC_SEED ?? 20_251_125);

const decimalArb = (maxUnits: number, maxPlaces: number) =>
  fc
    .record({ units: fc.integer({ min: 0, max: maxUnits }), places: fc.integer({ min: 0, max: maxPlaces }) })
    .chain(({ units, places }) =>
      fc.integer({ min: 0, max: 10 ** places - 1 }).map((frac) => {
        const f = places === 0 ? "" : `.${String(frac).padStart(places, "0")}`;
        return new Decimal(`${units}${f}`);
      }),
    );

const symbolArb = fc.record({
  increment: fc.constantFrom("0.000000001", "0.000000001", "1", "0.0001", "0.5", "5", "0.0000000001"),
  fractionable: fc.boolean(),
  tradable: fc.constantFrom(true, true, true, false),
  minNotional: fc.constantFrom(undefined, "1", "0", "2.5"),
  price: fc.oneof(decimalArb(100_000, 4), decimalArb(2, 6), decimalArb(5, 9)),
  held: fc.oneof(fc.constant(undefined), decimalArb(5_000, 9), decimalArb(50, 2)),
  availableShare: fc.constantFrom(10, 10, 10, 7, 0),
  target: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined }),
  openBuy: fc.constantFrom("none", "none", "qty", "notional", "limit", "filledNotional"),
  openSell: fc.constantFrom("none", "none", "qty", "partial"),
  priced: fc.constantFrom(true, true, true, true, false),
});

const portfolioArb = fc.record({
  symbols: fc.array(symbolArb, { minLength: 1, maxLength: 12 }),
  equity: decimalArb(50_000_000, 2),
  cash: decimalArb(5_000_000, 2),
  targetKind: fc.constantFrom("weights", "weights", "quantities", "notionals"),
  notionalOpenOrders: fc.constantFrom(true, false, false),
  weightPlaces: fc.constantFrom(6, 6, 6, 12),
  options: fc.record(
    {
      noTradeBand: fc.record({
        weight: fc.constantFrom("0", "0.0005", "0.01"),
        notional: fc.constantFrom("0", "5", "100"),
      }),
      minOrderNotional: fc.constantFrom("1", "0", "5", "0.5"),
      cashBuffer: fc.constantFrom("0.0025", "0", "0.05"),
      fullExitTolerance: fc.constantFrom("0.02", "0", "0.1"),
      buyWith: fc.constantFrom("notional", "qty"),
      marketBuyBuffer: fc.constantFrom("0.03", "0", "0.0125"),
      untargeted: fc.constantFrom("liquidate", "keep"),
      sides: fc.constantFrom("both", "both", "sells", "buys"),
      cashExcludesOpenBuys: fc.boolean(),
      keep: fc.constantFrom([], ["S0"]),
    },
    { requiredKeys: [] },
  ),
  capabilities: fc.record({
    notionalOrders: fc.constantFrom(true, true, false),
    fractional: fc.constantFrom(true, true, false),
    closePosition: fc.constantFrom(true, true, false),
  }),
});

type Portfolio = typeof portfolioArb extends fc.Arbitrary<infer T> ? T : never;

function order(id: string, symbol: string, side: "buy" | "sell", size: Record<string, unknown>) {
  return {
    id,
    clientOrderId: `c-${id}`,
    symbol,
    side,
    type: "market" as const,
    timeInForce: "day" as const,
    filledQty: "0",
    status: "new" as const,
    updatedAt: new Date(0),
    ...size,
  };
}

function buildInput(p: Portfolio): RebalanceInputInput {
  const positions: { symbol: string; qty: Decimal; qtyAvailable: Decimal }[] = [];
  const openOrders: ReturnType<typeof order>[] = [];
  const prices: Record<string, Decimal> = {};
  const assets: Record<string, unknown>[] = [];
  const targets: Record<string, Decimal> = {};
  const targetTotal = p.symbols.reduce((s, x) => s + (x.target ?? 0), 0) * 1.1 + 1;
  p.symbols.forEach((s, i) => {
    const symbol = `S${i}`;
    const price = s.price.isZero() ? new Decimal("0.01") : s.price;
    if (s.priced) prices[symbol] = price;
    assets.push({
      symbol,
      tradable: s.tradable,
      fractionable: s.fractionable,
      qtyIncrement: s.increment,
      ...(s.minNotional === undefined ? {} : { minNotional: s.minNotional }),
    });
    const held = s.held;
    let available = held ?? new Decimal(0);
    if (held?.gt(0)) {
      if (s.openSell !== "none") {
        const qty = held.div(4).toDecimalPlaces(3, Decimal.ROUND_DOWN);
        if (qty.gt(0)) {
          const filled = s.openSell === "partial" ? qty.div(3).toDecimalPlaces(3, Decimal.ROUND_DOWN) : "0";
          openOrders.push(order(`${symbol}-s`, symbol, "sell", { qty, filledQty: filled }));
          available = held.minus(qty).plus(filled);
        }
      }
      available = available.times(s.availableShare).div(10).toDecimalPlaces(9, Decimal.ROUND_DOWN);
      positions.push({ symbol, qty: held, qtyAvailable: available });
    }
    if (s.openBuy === "qty") openOrders.push(order(`${symbol}-b`, symbol, "buy", { qty: "3" }));
    if (s.openBuy === "limit") {
      openOrders.push(
        order(`${symbol}-b`, symbol, "buy", { qty: "2.5", type: "limit", limitPrice: price.times("0.97") }),
      );
    }
    const notionalOpen = p.notionalOpenOrders;
    if (s.openBuy === "notional" && notionalOpen)
      openOrders.push(order(`${symbol}-b`, symbol, "buy", { notional: "1000" }));
    if (s.openBuy === "filledNotional" && notionalOpen) {
      openOrders.push(
        order(`${symbol}-b`, symbol, "buy", {
          notional: "777.77",
          filledQty: "0.5",
          filledAvgPrice: price.times("1.01"),
          status: "partially_filled",
        }),
      );
    }
    if (s.target !== undefined) {
      const share = new Decimal(s.target).div(targetTotal);
      if (p.targetKind === "weights")
        targets[symbol] = share.toDecimalPlaces(p.weightPlaces, Decimal.ROUND_DOWN);
      else if (p.targetKind === "notionals")
        targets[symbol] = share.times(p.equity).toDecimalPlaces(2, Decimal.ROUND_DOWN);
      else targets[symbol] = share.times(p.equity).div(price).toDecimalPlaces(4, Decimal.ROUND_DOWN);
    }
  });
  return {
    positions,
    openOrders,
    targets: { [p.targetKind]: targets } as RebalanceInputInput["targets"],
    prices,
    assets: assets as RebalanceInputInput["assets"],
    account: { equity: p.equity, cash: p.cash },
    capabilities: p.capabilities,
    // The reference rounds every quantity leg down: compared at the same rule.
    options: { ...(p.options as object), rounding: "down" } as RebalanceInputInput["options"],
  };
}

/** A plan as plain strings, for an exact comparison of every value. */
const plain = (plan: RebalancePlan) => JSON.parse(JSON.stringify(plan)) as unknown;

const NUMERIC = /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i;

/**
 * Where two plans differ beyond a relative 1e-28 on decimals (anything else must be equal). A
 * notional open order's unfilled shares are a 40-digit quotient; the reference then rounds
 * each sum with it to 40 digits where the planner keeps it exact, so those figures may differ
 * in their last digits.
 */
function differences(a: unknown, b: unknown, path = "plan"): string[] {
  if (typeof a === "string" && typeof b === "string" && NUMERIC.test(a) && NUMERIC.test(b)) {
    if (a === b) return [];
    const x = new Decimal(a);
    const y = new Decimal(b);
    const scale = Decimal.max(1, x.abs(), y.abs());
    return x.minus(y).abs().lte(scale.times("1e-28")) ? [] : [`${path}: ${a} ≠ ${b}`];
  }
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`),
    );
  }
  return a === b ? [] : [`${path}: ${String(a)} ≠ ${String(b)}`];
}

describe("planner vs its decimal.js reference", () => {
  it("gives identical plans over random portfolios", () => {
    let legs = 0;
    let notionalOrders = 0;
    fc.assert(
      fc.property(portfolioArb, (p) => {
        const input = buildInput(p);
        const plan = calculateRebalanceOrders(input);
        const reference = referencePlan(RebalanceInputSchema.parse(input));
        const quotients = (input.openOrders ?? []).some(
          (o) =>
            o.notional !== undefined && (input.prices as Record<string, unknown>)[o.symbol] !== undefined,
        );
        if (quotients) {
          notionalOrders++;
          expect(differences(plain(plan), plain(reference))).toEqual([]);
        } else expect(plain(plan)).toEqual(plain(reference));
        legs += plan.legs.length;
      }),
      { numRuns: 3000, seed: SEED },
    );
    // The portfolios are not trivial: most trade.
    expect(legs).toBeGreaterThan(3000);
    // Most portfolios are compared digit for digit.
    expect(notionalOrders).toBeLessThan(1500);
  });
});
