import * as fc from "fast-check";
import { calculateRebalanceOrders, Decimal, type RebalanceInputInput, type RebalancePlan } from "ordersafe";
import { describe, expect, it } from "vitest";

// Random portfolios: fractional and whole-share assets, accounts from $50 to $50M, prices from
// $0.01 to $100,000, open orders (some partly filled, some notional), random options.

const NANO = new Decimal("0.000000001");
const ZERO = new Decimal(0);

interface SymbolSpec {
  fractionable: boolean;
  priceMantissa: number;
  priceExp: number;
  holdShare: number;
  targetShare: number;
  targeted: boolean;
  openSell: number; // tenths of the held quantity, 0 for none
  openSellFilled: number; // tenths of the order already filled
  openBuy: number; // tenths of the target value, 0 for none
  openBuyNotional: boolean;
}

const symbolArb: fc.Arbitrary<SymbolSpec> = fc.record({
  fractionable: fc.boolean(),
  priceMantissa: fc.integer({ min: 1, max: 9999 }),
  priceExp: fc.integer({ min: 0, max: 7 }),
  holdShare: fc.integer({ min: 0, max: 10 }),
  targetShare: fc.integer({ min: 0, max: 10 }),
  targeted: fc.boolean(),
  openSell: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 5 })),
  openSellFilled: fc.integer({ min: 0, max: 9 }),
  openBuy: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 5 })),
  openBuyNotional: fc.boolean(),
});

const portfolioArb = fc.record({
  symbols: fc.array(symbolArb, { minLength: 1, maxLength: 8 }),
  equityMantissa: fc.integer({ min: 5, max: 50 }),
  equityExp: fc.integer({ min: 1, max: 6 }),
  cashShare: fc.integer({ min: 0, max: 10 }),
  targetCashShare: fc.integer({ min: 0, max: 5 }),
  targetKind: fc.constantFrom("weights", "weights", "quantities", "notionals"),
  band: fc.record({
    weight: fc.constantFrom("0", "0", "0.001", "0.01"),
    notional: fc.constantFrom("0", "0", "5"),
  }),
  minOrderNotional: fc.constantFrom("1", "1", "5"),
  fullExitTolerance: fc.constantFrom("0.02", "0.02", "0", "0.1"),
  buyWith: fc.constantFrom("notional", "notional", "qty"),
  untargeted: fc.constantFrom(undefined, "liquidate", "keep"),
  capabilities: fc.record({
    notionalOrders: fc.constantFrom(true, true, false),
    fractional: fc.constantFrom(true, true, false),
    closePosition: fc.constantFrom(true, true, false),
  }),
  unpricedSymbol: fc.boolean(),
  cashExcludesOpenBuys: fc.boolean(),
  sides: fc.constantFrom("both", "both", "both", "sells", "buys"),
});

type Portfolio = typeof portfolioArb extends fc.Arbitrary<infer T> ? T : never;

function floorTo(v: Decimal, inc: Decimal): Decimal {
  return v.div(inc).floor().times(inc);
}

function buildInput(p: Portfolio): RebalanceInputInput {
  const equityTarget = new Decimal(p.equityMantissa).times(new Decimal(10).pow(p.equityExp));
  const holdTotal = p.symbols.reduce((s, x) => s + x.holdShare, 0) + Math.max(1, p.cashShare);
  const targetTotal = p.symbols.reduce((s, x) => s + x.targetShare, 0) + p.targetCashShare || 1;
  const positions: RebalanceInputInput["positions"] = [];
  const openOrders: NonNullable<RebalanceInputInput["openOrders"]> = [];
  const prices: Record<string, Decimal> = {};
  const assets: {
    symbol: string;
    tradable: boolean;
    fractionable: boolean;
    qtyIncrement: Decimal;
    minNotional: Decimal;
  }[] = [];
  const targets: Record<string, Decimal> = {};
  let cash = floorTo(equityTarget.times(Math.max(1, p.cashShare)).div(holdTotal), new Decimal("0.01"));
  let equity = cash;
  p.symbols.forEach((s, i) => {
    const symbol = `S${i}`;
    const cents = Math.max(1, Math.floor((s.priceMantissa * 10 ** s.priceExp) / 10_000));
    const price = new Decimal(cents).div(100);
    const inc = s.fractionable ? NANO : new Decimal(1);
    assets.push({
      symbol,
      tradable: true,
      fractionable: s.fractionable,
      qtyIncrement: inc,
      minNotional: new Decimal(1),
    });
    if (!(p.unpricedSymbol && i === p.symbols.length - 1 && i > 0)) prices[symbol] = price;
    const held = floorTo(equityTarget.times(s.holdShare).div(holdTotal).div(price), inc);
    equity = equity.plus(held.times(price));
    let sellOpen = ZERO;
    if (held.gt(0) && s.openSell > 0) {
      const qty = floorTo(held.times(s.openSell).div(10), inc);
      if (qty.gt(0)) {
        const filled = floorTo(qty.times(s.openSellFilled).div(10), inc);
        openOrders.push(order(`${symbol}-s`, symbol, "sell", { qty, filledQty: filled }));
        sellOpen = qty.minus(filled);
      }
    }
    if (held.gt(0)) positions.push({ symbol, qty: held, qtyAvailable: held.minus(sellOpen) });
    const targetValue = equityTarget.times(s.targetShare).div(targetTotal);
    if (s.openBuy > 0) {
      const value = floorTo(targetValue.times(s.openBuy).div(10), new Decimal("0.01"));
      if (s.openBuyNotional && value.gte(1)) {
        openOrders.push(order(`${symbol}-b`, symbol, "buy", { notional: value }));
      } else {
        const qty = floorTo(value.div(price), inc);
        if (qty.gt(0)) openOrders.push(order(`${symbol}-b`, symbol, "buy", { qty }));
      }
    }
    if (s.targeted) {
      if (p.targetKind === "weights") {
        targets[symbol] = floorTo(new Decimal(s.targetShare).div(targetTotal), new Decimal("0.0001"));
      } else if (p.targetKind === "notionals") {
        targets[symbol] = floorTo(targetValue, new Decimal("0.01"));
      } else targets[symbol] = floorTo(targetValue.div(price), inc);
    }
  });
  cash = Decimal.max(cash, ZERO);
  return {
    positions,
    openOrders,
    targets: { [p.targetKind]: targets } as RebalanceInputInput["targets"],
    prices,
    assets,
    account: { equity, cash },
    capabilities: p.capabilities,
    options: {
      noTradeBand: p.band,
      minOrderNotional: p.minOrderNotional,
      fullExitTolerance: p.fullExitTolerance,
      buyWith: p.buyWith as "notional" | "qty",
      untargeted: p.untargeted as "liquidate" | "keep" | undefined,
      cashExcludesOpenBuys: p.cashExcludesOpenBuys,
      sides: p.sides as "both" | "sells" | "buys",
    },
  };
}

function order(id: string, symbol: string, side: "buy" | "sell", size: Record<string, Decimal>) {
  return {
    id,
    clientOrderId: `c-${id}`,
    symbol,
    side,
    type: "market" as const,
    timeInForce: "day" as const,
    filledQty: ZERO,
    status: "new" as const,
    updatedAt: new Date(0),
    ...size,
    ...(size.filledQty?.gt(0) ? { status: "partially_filled" as const } : {}),
  };
}

type Position = { symbol: string; qty: Decimal; qtyAvailable: Decimal };
type Order = ReturnType<typeof order> & { qty?: Decimal; notional?: Decimal };

/** The state after every leg filled at its reference price, conflicts cancelled, other open orders still open. */
function afterFills(input: RebalanceInputInput, plan: RebalancePlan): RebalanceInputInput {
  const positions = new Map((input.positions as Position[]).map((p) => [p.symbol, { ...p }]));
  let cash = new Decimal(input.account.cash as Decimal);
  for (const leg of plan.legs) {
    const p = positions.get(leg.symbol) ?? { symbol: leg.symbol, qty: ZERO, qtyAvailable: ZERO };
    if (leg.side === "sell") {
      p.qty = p.qty.minus(leg.estimatedQty);
      p.qtyAvailable = p.qtyAvailable.minus(leg.estimatedQty);
      cash = cash.plus(leg.estimatedNotional);
    } else {
      p.qty = p.qty.plus(leg.estimatedQty);
      p.qtyAvailable = p.qtyAvailable.plus(leg.estimatedQty);
      // Counted as the plan counted it: a quantity market buy's hold included.
      cash = cash.minus(leg.cashRequired);
    }
    positions.set(leg.symbol, p);
  }
  const cancelled = new Set(plan.conflicts.map((c) => c.orderId));
  const openOrders = (input.openOrders as Order[]).filter((o) => !cancelled.has(o.id));
  for (const o of input.openOrders as Order[]) {
    // A cancelled open sell frees its shares.
    if (cancelled.has(o.id) && o.side === "sell") {
      const p = positions.get(o.symbol);
      if (p) p.qtyAvailable = p.qtyAvailable.plus((o.qty as Decimal).minus(o.filledQty));
    }
  }
  return {
    ...input,
    positions: [...positions.values()].filter((p) => !p.qty.isZero()),
    openOrders,
    account: { equity: input.account.equity, cash },
  };
}

/** The state after every leg was placed and is still open (sells not filled, so no proceeds). */
function afterPlacing(input: RebalanceInputInput, plan: RebalancePlan): RebalanceInputInput {
  const positions = new Map((input.positions as Position[]).map((p) => [p.symbol, { ...p }]));
  const cancelled = new Set(plan.conflicts.map((c) => c.orderId));
  const openOrders: Order[] = (input.openOrders as Order[]).filter((o) => !cancelled.has(o.id));
  for (const o of input.openOrders as Order[]) {
    if (cancelled.has(o.id) && o.side === "sell") {
      const p = positions.get(o.symbol);
      if (p) p.qtyAvailable = p.qtyAvailable.plus((o.qty as Decimal).minus(o.filledQty));
    }
  }
  plan.legs.forEach((leg, i) => {
    const size: Record<string, Decimal> =
      leg.notional !== undefined ? { notional: leg.notional } : { qty: leg.qty as Decimal };
    openOrders.push(order(`leg-${i}`, leg.symbol, leg.side, size));
    if (leg.side === "sell") {
      const p = positions.get(leg.symbol)!;
      p.qtyAvailable = p.qtyAvailable.minus(leg.qty as Decimal);
    }
  });
  // A cash figure that excludes open buys (a broker's buying power) drops by their holds.
  let cash = new Decimal(input.account.cash as Decimal);
  if (input.options?.cashExcludesOpenBuys) for (const leg of plan.buys) cash = cash.minus(leg.cashRequired);
  return { ...input, positions: [...positions.values()], openOrders, account: { ...input.account, cash } };
}

const run = (input: RebalanceInputInput) => calculateRebalanceOrders(input);

/** The order increment of a symbol: its own when fractional trading applies, else one share. */
function incrementOf(input: RebalanceInputInput, symbol: string): Decimal {
  const asset = (input.assets as { symbol: string; fractionable: boolean; qtyIncrement: Decimal }[]).find(
    (a) => a.symbol === symbol,
  );
  const fractional = asset?.fractionable === true && input.capabilities?.fractional !== false;
  return fractional ? new Decimal(asset.qtyIncrement) : new Decimal(1);
}
const inputArb = portfolioArb.map(buildInput);
const bothSidesArb = portfolioArb.map((p) => buildInput({ ...p, sides: "both" }));
// Pinned so the suite is deterministic; set FC_SEED to explore other portfolios.
const SEED = Number(process.env.FC_SEED ?? 20_250_807);
const params = (numRuns: number) => ({ numRuns, seed: SEED });

describe("calculateRebalanceOrders properties", () => {
  it("never trades a symbol on both sides, nor against an open order it does not cancel", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plan = run(input);
        const symbols = plan.legs.map((l) => l.symbol);
        expect(new Set(symbols).size).toBe(symbols.length);
        const cancelled = new Set(plan.conflicts.map((c) => c.orderId));
        for (const leg of plan.legs) {
          for (const o of input.openOrders as Order[]) {
            if (o.symbol === leg.symbol && o.side !== leg.side) expect(cancelled.has(o.id)).toBe(true);
          }
        }
        expect(plan.legs).toEqual([...plan.sells, ...plan.buys]);
      }),
      params(400),
    );
  });

  it("never sells above qtyAvailable, keeps every leg at or above the minimum, and ≤ 9 decimals", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plan = run(input);
        const available = new Map((input.positions as Position[]).map((p) => [p.symbol, p.qtyAvailable]));
        const min = new Decimal(input.options?.minOrderNotional as string);
        for (const leg of plan.sells) {
          expect(leg.qty!.lte(available.get(leg.symbol) ?? ZERO)).toBe(true);
        }
        for (const leg of plan.legs) {
          if (!leg.closePosition) expect(leg.estimatedNotional.gte(min)).toBe(true);
          expect(leg.estimatedQty.gt(0)).toBe(true);
          if (leg.qty) expect(leg.qty.decimalPlaces()).toBeLessThanOrEqual(9);
          if (leg.notional) expect(leg.notional.decimalPlaces()).toBeLessThanOrEqual(2);
        }
      }),
      params(400),
    );
  });

  it("fits the buys in the cash the plan may count on", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plan = run(input);
        const equity = new Decimal(input.account.equity as Decimal);
        const proceeds = plan.sells.reduce((s, l) => s.plus(l.qty!.times(l.price)), ZERO);
        const ceiling = Decimal.max(
          ZERO,
          new Decimal(input.account.cash as Decimal).plus(proceeds).minus(equity.times("0.0025")),
        );
        const spent = plan.buys.reduce((s, l) => s.plus(l.cashRequired), ZERO);
        expect(plan.summary.budget.available.lte(ceiling)).toBe(true);
        expect(spent.lte(plan.summary.budget.available)).toBe(true);
        for (const leg of plan.buys) {
          const counted = leg.notional ?? leg.qty!.times(leg.price).times("1.03");
          expect(leg.cashRequired.toString()).toBe(counted.toString());
        }
      }),
      params(400),
    );
  });

  it("trades no more than the minimal turnover plus the rounding allowance", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const plan = run(input);
        let allowance = ZERO;
        for (const leg of plan.legs) {
          // A full exit sells the small remainder the target allowed; a quantity leg is rounded to
          // the nearest increment (at most half of one past the delta); the increment snap adds
          // at most a millionth of an increment.
          const half = leg.qty === undefined ? ZERO : incrementOf(input, leg.symbol).div(2);
          if (leg.action === "exit") allowance = allowance.plus(leg.targetQty.times(leg.price));
          allowance = allowance.plus(leg.price.times(half.plus("0.000001")));
          const delta = leg.targetQty.minus(leg.projectedQty).abs();
          const extra = leg.action === "exit" ? leg.targetQty : ZERO;
          expect(leg.estimatedQty.lte(delta.plus(extra).plus(half).plus("0.000001"))).toBe(true);
        }
        expect(plan.summary.turnover.lte(plan.summary.minimalTurnover.plus(allowance))).toBe(true);
        expect(plan.summary.orderCount).toBe(plan.legs.length);
      }),
      params(400),
    );
  });

  it("is idempotent: planning again on the projected result gives no legs", () => {
    fc.assert(
      fc.property(bothSidesArb, (input) => {
        const plan = run(input);
        const again = run(afterFills(input, plan));
        // The one documented exception: a full exit within fullExitTolerance sold a small
        // remainder the target still wants, which the next plan may buy back (at most
        // fullExitTolerance of the old position).
        const toleranceExits = new Map(
          plan.sells.filter((l) => l.reason === "exit_tolerance").map((l) => [l.symbol, l]),
        );
        const unexpected = again.legs.filter((l) => {
          const exit = toleranceExits.get(l.symbol);
          return !(exit && l.side === "buy" && l.estimatedQty.lte(exit.targetQty.plus("0.000001")));
        });
        expect(unexpected.map((l) => `${l.side} ${l.symbol} ${l.estimatedNotional}`)).toEqual([]);
      }),
      params(600),
    );
  });

  it("gives no new leg when open orders already cover the deltas", () => {
    fc.assert(
      fc.property(bothSidesArb, (input) => {
        const plan = run(input);
        const again = run(afterPlacing(input, plan));
        expect(again.legs.map((l) => `${l.side} ${l.symbol} ${l.estimatedNotional}`)).toEqual([]);
      }),
      params(500),
    );
  });

  it("covers the interesting cases (sells, exits, shrunk buys, conflicts, dust, skips)", () => {
    const seen = new Map<string, number>();
    const note = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
    for (const input of fc.sample(inputArb, { numRuns: 500, seed: SEED })) {
      const plan = run(input);
      if (plan.sells.some((l) => l.action === "trim")) note("trim");
      if (plan.sells.some((l) => l.action === "exit")) note("exit");
      if (plan.sells.some((l) => l.closePosition)) note("closePosition");
      if (plan.buys.some((l) => l.shrunk)) note("shrunk");
      if (plan.buys.some((l) => l.notional)) note("notional");
      if (plan.buys.some((l) => l.qty)) note("qtyBuy");
      if (plan.conflicts.length > 0) note("conflict");
      for (const s of plan.skipped) note(s.reason);
    }
    for (const k of ["trim", "exit", "closePosition", "shrunk", "notional", "qtyBuy", "conflict"]) {
      expect(seen.get(k) ?? 0).toBeGreaterThan(5);
    }
    for (const k of ["below_minimum", "no_price", "covered_by_open_orders", "insufficient_cash", "kept"]) {
      expect(seen.get(k) ?? 0).toBeGreaterThan(5);
    }
  });

  it("is deterministic, whatever the order of positions, orders and assets", () => {
    fc.assert(
      fc.property(inputArb, fc.integer(), (input, seed) => {
        const shuffle = <T>(xs: readonly T[]): T[] => {
          const out = [...xs];
          let s = seed | 0;
          for (let i = out.length - 1; i > 0; i--) {
            s = (Math.imul(s, 1103515245) + 12345) | 0;
            const j = Math.abs(s) % (i + 1);
            [out[i], out[j]] = [out[j]!, out[i]!];
          }
          return out;
        };
        const a = JSON.stringify(run(input));
        const b = JSON.stringify(run(input));
        const c = JSON.stringify(
          run({
            ...input,
            positions: shuffle(input.positions as Position[]),
            openOrders: shuffle(input.openOrders as Order[]),
            assets: shuffle(input.assets as unknown[]) as RebalanceInputInput["assets"],
          }),
        );
        expect(b).toBe(a);
        expect(c).toBe(a);
      }),
      params(300),
    );
  });
});
