import * as fc from "fast-check";
import { calculateRebalanceOrders, Decimal, type RebalanceInputInput, type RebalancePlan } from "ordersafe";
import { describe, expect, it } from "vitest";

// Whole-share rounding against a brute-force oracle. Small portfolios of whole-share assets
// (quantity orders). The oracle tries every choice per symbol: a sell of ⌊excess⌋ or ⌈excess⌉
// shares (never above what is available), a buy of 0, ⌊need⌋ or ⌈need⌉ shares, each leg at
// least the minimum notional, the buys within the cash (cash + the sells' proceeds − the cash
// buffer, a quantity market buy counted at price × 1.03). Tracking error: Σ |target − holding
// after| × price over the symbols. The planner must never be worse than the best choice.

const CASH_BUFFER = new Decimal("0.0025");
const BUY_FACTOR = new Decimal("1.03");
const ZERO = new Decimal(0);

const symbolArb = fc.record({
  cents: fc.integer({ min: 500, max: 90_000 }),
  held: fc.integer({ min: 0, max: 40 }),
  // The target in tenths of a share, so most targets fall between two whole shares.
  targetTenths: fc.integer({ min: 0, max: 400 }),
  minNotional: fc.constantFrom("1", "1", "50"),
});

const portfolioArb = fc.record({
  symbols: fc.array(symbolArb, { minLength: 1, maxLength: 4 }),
  cashCents: fc.integer({ min: 0, max: 2_000_000 }),
});

type Portfolio = typeof portfolioArb extends fc.Arbitrary<infer T> ? T : never;

interface Sym {
  symbol: string;
  price: Decimal;
  held: Decimal;
  target: Decimal;
  min: Decimal;
}

function symbolsOf(p: Portfolio): Sym[] {
  return p.symbols.map((s, i) => ({
    symbol: `S${i}`,
    price: new Decimal(s.cents).div(100),
    held: new Decimal(s.held),
    target: new Decimal(s.targetTenths).div(10),
    min: new Decimal(s.minNotional),
  }));
}

function inputOf(p: Portfolio, syms: readonly Sym[]): RebalanceInputInput {
  const cash = new Decimal(p.cashCents).div(100);
  const equity = syms.reduce((e, s) => e.plus(s.held.times(s.price)), cash);
  return {
    positions: syms
      .filter((s) => s.held.gt(0))
      .map((s) => ({ symbol: s.symbol, qty: s.held, qtyAvailable: s.held })),
    targets: { quantities: Object.fromEntries(syms.map((s) => [s.symbol, s.target])) },
    prices: Object.fromEntries(syms.map((s) => [s.symbol, s.price])),
    assets: syms.map((s) => ({
      symbol: s.symbol,
      tradable: true,
      fractionable: false,
      qtyIncrement: 1,
      minNotional: s.min,
    })),
    account: { equity, cash },
    options: { buyWith: "qty" },
  };
}

const trackingError = (syms: readonly Sym[], after: readonly Decimal[]) =>
  syms.reduce((te, s, i) => te.plus(s.target.minus(after[i]!).abs().times(s.price)), ZERO);

/** The best tracking error over every floor/ceiling (and, for a buy, zero) choice that fits. */
function oracle(p: Portfolio, syms: readonly Sym[]): Decimal {
  const cash = new Decimal(p.cashCents).div(100);
  const equity = syms.reduce((e, s) => e.plus(s.held.times(s.price)), cash);
  // Each symbol's choices: signed share moves.
  const choices = syms.map((s) => {
    const delta = s.target.minus(s.held);
    const ok = (q: Decimal) => q.isZero() || q.abs().times(s.price).gte(s.min);
    if (delta.isZero()) return [ZERO];
    if (delta.lt(0)) {
      // What a sell leaves must be nothing or a holding that can be sold on its own later
      // (the planner's rule against dust: at least the minimum order).
      const leaves = (q: Decimal) => {
        const rest = s.held.minus(q);
        return rest.isZero() || rest.times(s.price).gte(s.min);
      };
      const excess = delta.neg();
      const moves = [excess.floor(), Decimal.min(excess.ceil(), s.held)].filter((q) => ok(q) && leaves(q));
      if (moves.length === 0) return ok(s.held) ? [s.held.neg()] : [ZERO];
      return moves.map((q) => q.neg());
    }
    return [ZERO, delta.floor(), delta.ceil()].filter(ok);
  });
  let best: Decimal | undefined;
  const pick = (k: number, moves: Decimal[]): void => {
    if (k === syms.length) {
      let proceeds = ZERO;
      let spend = ZERO;
      moves.forEach((m, i) => {
        const v = m.abs().times(syms[i]!.price);
        if (m.lt(0)) proceeds = proceeds.plus(v);
        else spend = spend.plus(v.times(BUY_FACTOR));
      });
      const available = Decimal.max(ZERO, cash.plus(proceeds).minus(equity.times(CASH_BUFFER)));
      if (spend.gt(available)) return;
      const te = trackingError(
        syms,
        moves.map((m, i) => syms[i]!.held.plus(m)),
      );
      if (best === undefined || te.lt(best)) best = te;
      return;
    }
    for (const m of choices[k]!) pick(k + 1, [...moves, m]);
  };
  pick(0, []);
  return best ?? ZERO;
}

function plannerError(syms: readonly Sym[], plan: RebalancePlan): Decimal {
  const after = syms.map((s) => {
    const leg = plan.legs.find((l) => l.symbol === s.symbol);
    if (leg === undefined) return s.held;
    return leg.side === "buy" ? s.held.plus(leg.estimatedQty) : s.held.minus(leg.estimatedQty);
  });
  return trackingError(syms, after);
}

const SEED = Number(process.env.FC_SEED ?? 20_261_202);

describe("whole-share rounding", () => {
  it("is never worse than the best floor/ceiling choice per symbol under the same cash and rules", () => {
    fc.assert(
      fc.property(portfolioArb, (p) => {
        const syms = symbolsOf(p);
        const plan = calculateRebalanceOrders(inputOf(p, syms));
        const mine = plannerError(syms, plan);
        const best = oracle(p, syms);
        expect(mine.lte(best), `planner ${mine} > oracle ${best}`).toBe(true);
      }),
      { numRuns: 400, seed: SEED, endOnFailure: true },
    );
  });

  it("never spends above the cash nor sells above what is available", () => {
    fc.assert(
      fc.property(portfolioArb, (p) => {
        const syms = symbolsOf(p);
        const input = inputOf(p, syms);
        const plan = calculateRebalanceOrders(input);
        for (const leg of plan.sells)
          expect(leg.estimatedQty.lte(syms.find((s) => s.symbol === leg.symbol)!.held)).toBe(true);
        const spent = plan.buys.reduce((s, l) => s.plus(l.cashRequired), ZERO);
        expect(spent.lte(plan.summary.budget.available)).toBe(true);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it("buys one share of a target under one share when more than half of it is wanted", () => {
    // The $2,041 account: every target is under one share; rounding down left it idle.
    const plan = calculateRebalanceOrders({
      positions: [],
      targets: { quantities: { AAA: "0.7", BBB: "0.4" } },
      prices: { AAA: "900", BBB: "1000" },
      assets: [
        { symbol: "AAA", tradable: true, fractionable: false, qtyIncrement: 1 },
        { symbol: "BBB", tradable: true, fractionable: false, qtyIncrement: 1 },
      ],
      account: { equity: "2041", cash: "2041" },
    });
    expect(plan.buys.map((l) => [l.symbol, l.qty?.toFixed()])).toEqual([["AAA", "1"]]);
  });
});
