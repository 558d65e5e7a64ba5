// npx tsx bench/rounding.ts — whole-share rounding: tracking error (Σ |target − holding| ×
// price, in bp of equity) of rounding: "down" (the former rule) and "nearest", beside the best
// floor/ceiling choice per symbol found by brute force under the same cash and rules, over
// 240 random portfolios of 2 to 5 whole-share symbols (quantity market buys).

import { calculateRebalanceOrders, createRandom, Decimal, type RebalancePlan } from "../src/index.js";

const ZERO = new Decimal(0);
const BUY_FACTOR = new Decimal("1.03");
const BUFFER = new Decimal("0.0025");

interface Sym {
  symbol: string;
  price: Decimal;
  held: Decimal;
  target: Decimal;
  min: Decimal;
}

function portfolio(seed: number): { syms: Sym[]; cash: Decimal; equity: Decimal } {
  const rand = createRandom(seed);
  const n = 2 + Math.floor(rand() * 4);
  const cash = new Decimal(Math.floor(rand() * 300_000)).div(100);
  const syms: Sym[] = [];
  for (let i = 0; i < n; i++) {
    syms.push({
      symbol: `S${i}`,
      price: new Decimal(500 + Math.floor(rand() * 60_000)).div(100),
      held: new Decimal(Math.floor(rand() * 30)),
      target: ZERO,
      min: new Decimal(1),
    });
  }
  const equity = syms.reduce((e, s) => e.plus(s.held.times(s.price)), cash);
  // Targets: random weights of 99% of equity, in shares to a tenth (most between two shares).
  const raw = syms.map(() => 0.2 + rand());
  const sum = raw.reduce((a, b) => a + b, 0);
  syms.forEach((s, i) => {
    s.target = equity
      .times((0.99 * raw[i]!) / sum)
      .div(s.price)
      .times(10)
      .floor()
      .div(10);
  });
  return { syms, cash, equity };
}

const error = (syms: readonly Sym[], after: readonly Decimal[]) =>
  syms.reduce((te, s, i) => te.plus(s.target.minus(after[i]!).abs().times(s.price)), ZERO);

function planned(p: ReturnType<typeof portfolio>, rounding: "down" | "nearest"): Decimal {
  const plan: RebalancePlan = calculateRebalanceOrders({
    positions: p.syms
      .filter((s) => s.held.gt(0))
      .map((s) => ({ symbol: s.symbol, qty: s.held, qtyAvailable: s.held })),
    targets: { quantities: Object.fromEntries(p.syms.map((s) => [s.symbol, s.target])) },
    prices: Object.fromEntries(p.syms.map((s) => [s.symbol, s.price])),
    assets: p.syms.map((s) => ({
      symbol: s.symbol,
      tradable: true,
      fractionable: false,
      qtyIncrement: 1,
      minNotional: s.min,
    })),
    account: { equity: p.equity, cash: p.cash },
    options: { buyWith: "qty", rounding },
  });
  return error(
    p.syms,
    p.syms.map((s) => {
      const leg = plan.legs.find((l) => l.symbol === s.symbol);
      if (leg === undefined) return s.held;
      return leg.side === "buy" ? s.held.plus(leg.estimatedQty) : s.held.minus(leg.estimatedQty);
    }),
  );
}

function oracle(p: ReturnType<typeof portfolio>): Decimal {
  const choices = p.syms.map((s) => {
    const delta = s.target.minus(s.held);
    const ok = (q: Decimal) => q.isZero() || q.abs().times(s.price).gte(s.min);
    if (delta.isZero()) return [ZERO];
    if (delta.lt(0)) {
      const leaves = (q: Decimal) => {
        const rest = s.held.minus(q);
        return rest.isZero() || rest.times(s.price).gte(s.min);
      };
      const moves = [delta.neg().floor(), Decimal.min(delta.neg().ceil(), s.held)].filter(
        (q) => ok(q) && leaves(q),
      );
      return moves.length === 0 ? [ok(s.held) ? s.held.neg() : ZERO] : moves.map((q) => q.neg());
    }
    return [ZERO, delta.floor(), delta.ceil()].filter(ok);
  });
  let best: Decimal | undefined;
  const pick = (k: number, moves: Decimal[]): void => {
    if (k === p.syms.length) {
      let proceeds = ZERO;
      let spend = ZERO;
      moves.forEach((m, i) => {
        const v = m.abs().times(p.syms[i]!.price);
        if (m.lt(0)) proceeds = proceeds.plus(v);
        else spend = spend.plus(v.times(BUY_FACTOR));
      });
      if (spend.gt(Decimal.max(ZERO, p.cash.plus(proceeds).minus(p.equity.times(BUFFER))))) return;
      const te = error(
        p.syms,
        moves.map((m, i) => p.syms[i]!.held.plus(m)),
      );
      if (best === undefined || te.lt(best)) best = te;
      return;
    }
    for (const m of choices[k]!) pick(k + 1, [...moves, m]);
  };
  pick(0, []);
  return best ?? ZERO;
}

let down = ZERO;
let nearest = ZERO;
let best = ZERO;
let worse = 0;
const N = 240;
for (let seed = 1; seed <= N; seed++) {
  const p = portfolio(seed);
  const bp = (x: Decimal) => (p.equity.isZero() ? ZERO : x.div(p.equity).times(10_000));
  const n = planned(p, "nearest");
  const o = oracle(p);
  if (n.gt(o)) {
    worse++;
    if (process.env.SHOW) console.log(seed, n.toFixed(3), o.toFixed(3), JSON.stringify(p));
  }
  down = down.plus(bp(planned(p, "down")));
  nearest = nearest.plus(bp(n));
  best = best.plus(bp(o));
}
const mean = (x: Decimal) => x.div(N).toFixed(2);
console.log(`${N} portfolios of 2-5 whole-share symbols; mean tracking error in bp of equity.\n`);
console.log(`rounding "down" (former)   ${mean(down)} bp   ${down.div(best).toFixed(2)}x the best choice`);
console.log(
  `rounding "nearest"         ${mean(nearest)} bp   ${nearest.div(best).toFixed(2)}x the best choice`,
);
console.log(`best floor/ceiling choice  ${mean(best)} bp   (brute force)`);
console.log(`portfolios where "nearest" is worse than the best choice: ${worse}`);
