// npm run bench:rebalance — a 50-symbol rebalance on the simulated broker with 50 ms REST
// and 200 ms fill latency, on the virtual clock and on real time, against the critical-path
// lower bound (one sell phase + one account read + one buy phase), with REST calls per order,
// beside two references on the same portfolio in the same run: a minimal orchestrator (one
// read wave, every sell at once, the stream for fills, one account read, every buy at once,
// one positions read to check) and a naive sequential liquidate-and-rebuy.

import {
  type BrokerPort,
  type Clock,
  createRandom,
  Decimal,
  type OrderSnapshot,
  SMART_REBALANCER_DEFAULTS,
  SmartRebalancer,
  systemClock,
} from "../src/index.js";
import { createSimulatedBroker, type SimulatedBroker, VirtualClock } from "../src/testing/index.js";

const REST_MS = 50;
const FILL_MS = 200;
const SYMBOLS = 50;

interface Portfolio {
  positions: Record<string, string>;
  prices: Record<string, string>;
  weights: Record<string, number>;
  cash: string;
}

function portfolio(seed: number): Portfolio {
  const rand = createRandom(seed);
  const positions: Record<string, string> = {};
  const prices: Record<string, string> = {};
  const raw: Record<string, number> = {};
  for (let i = 0; i < SYMBOLS; i++) {
    const s = `S${String(i).padStart(2, "0")}`;
    prices[s] = (5 + rand() * 495).toFixed(2);
    // 40 held (10 of them exited), 10 new entries
    if (i < 40) positions[s] = (10 + Math.floor(rand() * 200)).toString();
    if (i >= 10) raw[s] = 0.5 + rand();
  }
  const total = Object.values(raw).reduce((a, b) => a + b, 0);
  const weights = Object.fromEntries(
    Object.entries(raw).map(([s, w]) => [s, Math.floor((w / total) * 0.97 * 1e6) / 1e6]),
  );
  return { positions, prices, weights, cash: "20000" };
}

function broker(clock: Clock, p: Portfolio): SimulatedBroker {
  return createSimulatedBroker({
    clock,
    seed: 9,
    cash: p.cash,
    positions: p.positions,
    prices: p.prices,
    latency: { restMs: REST_MS, fillMs: FILL_MS },
  });
}

/** Sell every holding, one at a time, then buy every target, one at a time, polling each order. */
async function naive(b: BrokerPort, clock: Clock, p: Portfolio): Promise<number> {
  let n = 0;
  const waitFilled = async (id: string) => {
    for (let i = 0; i < 200; i++) {
      const o = await b.getOrder(id);
      if (o !== null && ["filled", "canceled", "rejected", "expired"].includes(o.status)) return;
      await clock.sleep(100);
    }
  };
  for (const pos of await b.getPositions()) {
    const o = await b.submitOrder({
      clientOrderId: `naive-${++n}`,
      symbol: pos.symbol,
      side: "sell",
      type: "market",
      timeInForce: "day",
      qty: pos.qty,
    });
    await waitFilled(o.id);
  }
  for (const [symbol, w] of Object.entries(p.weights)) {
    const account = await b.getAccount();
    const notional = account.equity.times(w).toDecimalPlaces(2, Decimal.ROUND_DOWN);
    if (notional.lt(1) || notional.gt(account.cash)) continue;
    const o = await b.submitOrder({
      clientOrderId: `naive-${++n}`,
      symbol,
      side: "buy",
      type: "market",
      timeInForce: "day",
      notional,
    });
    await waitFilled(o.id);
  }
  return n;
}

/**
 * The minimal orchestrator: what a rebalance cannot do without, with no checks. One wave of
 * reads (positions, account, target prices); every sell at once (whole holdings of exits, the
 * excess of the others, by quantity); waits for the fills on the stream; one account read;
 * every buy at once (by notional, within the cash); waits for the fills; one positions read.
 */
async function minimal(b: BrokerPort, p: Portfolio): Promise<number> {
  const waiting = new Map<string, () => void>();
  const sub = b.subscribeOrderUpdates({
    onUpdate: (u) => {
      if (["filled", "canceled", "rejected", "expired"].includes(u.order.status)) {
        waiting.get(u.order.clientOrderId)?.();
      }
    },
  });
  let n = 0;
  const send = async (req: Omit<Parameters<BrokerPort["submitOrder"]>[0], "clientOrderId">) => {
    const clientOrderId = `min-${++n}`;
    const done = new Promise<void>((resolve) => waiting.set(clientOrderId, resolve));
    const o: OrderSnapshot = await b.submitOrder({ ...req, clientOrderId });
    if (!["filled", "canceled", "rejected", "expired"].includes(o.status)) await done;
  };
  const symbols = Object.keys(p.weights);
  const [positions, account, prices] = await Promise.all([
    b.getPositions(),
    b.getAccount(),
    b.getLatestPrices(symbols),
  ]);
  const held = new Map(positions.map((x) => [x.symbol, x.qty]));
  const sells = positions.flatMap((pos) => {
    const price = prices.get(pos.symbol) ?? pos.currentPrice;
    const target =
      price === undefined ? new Decimal(0) : account.equity.times(p.weights[pos.symbol] ?? 0).div(price);
    const qty = pos.qty.minus(target.toDecimalPlaces(0, Decimal.ROUND_UP));
    return qty.gt(0) ? [{ symbol: pos.symbol, qty }] : [];
  });
  await Promise.all(
    sells.map((s) =>
      send({ symbol: s.symbol, side: "sell", type: "market", timeInForce: "day", qty: s.qty }),
    ),
  );
  const after = await b.getAccount();
  let cash = after.cash.times(0.97);
  const buys = symbols.flatMap((symbol) => {
    const price = prices.get(symbol);
    if (price === undefined) return [];
    const want = after.equity
      .times(p.weights[symbol] ?? 0)
      .minus((held.get(symbol) ?? new Decimal(0)).times(price))
      .toDecimalPlaces(2, Decimal.ROUND_DOWN);
    const notional = Decimal.min(want, cash);
    if (notional.lt(1)) return [];
    cash = cash.minus(notional);
    return [{ symbol, notional }];
  });
  await Promise.all(
    buys.map((x) =>
      send({ symbol: x.symbol, side: "buy", type: "market", timeInForce: "day", notional: x.notional }),
    ),
  );
  await b.getPositions();
  sub.close();
  return n;
}

interface Result {
  label: string;
  clock: string;
  orders: number;
  restCalls: number;
  elapsedMs: number;
  wallMs: number;
  turnover: Decimal;
}

async function runSmart(real: boolean, concurrency: number | undefined, p: Portfolio): Promise<Result> {
  const clock = real ? systemClock : new VirtualClock();
  const b = broker(clock, p);
  const rebalancer = new SmartRebalancer({ broker: b, clock, ...(concurrency ? { concurrency } : {}) });
  const t0 = performance.now();
  const start = clock.now();
  const work = rebalancer.rebalance({ weights: p.weights });
  const report = clock instanceof VirtualClock ? await clock.run(work) : await work;
  const wallMs = performance.now() - t0;
  if (report.status !== "completed" && report.status !== "completed_adjusted") {
    throw new Error(`unexpected status ${report.status}: ${JSON.stringify(report.error)}`);
  }
  return {
    label:
      concurrency === undefined
        ? `ordersafe (defaults: ${SMART_REBALANCER_DEFAULTS.concurrency} requests)`
        : `ordersafe (concurrency ${concurrency} requests)`,
    clock: real ? "real" : "virtual",
    orders: report.metrics.ordersSubmitted,
    restCalls: report.metrics.restCalls,
    elapsedMs: clock.now() - start,
    wallMs,
    turnover: report.metrics.turnover,
  };
}

async function runReference(real: boolean, p: Portfolio, which: "minimal" | "naive"): Promise<Result> {
  const clock = real ? systemClock : new VirtualClock();
  const b = broker(clock, p);
  const t0 = performance.now();
  const start = clock.now();
  const work = which === "minimal" ? minimal(b, p) : naive(b, clock, p);
  const orders = clock instanceof VirtualClock ? await clock.run(work) : await work;
  const wallMs = performance.now() - t0;
  const turnover = b
    .orders()
    .reduce((a, o) => a.plus(o.filledQty.times(o.filledAvgPrice ?? new Decimal(0))), new Decimal(0));
  return {
    label: which === "minimal" ? "minimal orchestrator (reference)" : "naive sequential liquidate-and-rebuy",
    clock: real ? "real" : "virtual",
    orders,
    restCalls: b.totalCalls(),
    elapsedMs: clock.now() - start,
    wallMs,
    turnover,
  };
}

async function main(): Promise<void> {
  const p = portfolio(7);
  // One sell phase (submit + fill) + one account read + one buy phase (submit + fill).
  const lowerBound = REST_MS + FILL_MS + REST_MS + REST_MS + FILL_MS;
  // The same with the two reads every run also makes: the first read and the check after.
  const runBound = REST_MS + lowerBound + REST_MS;
  const results: Result[] = [];
  // The system clock's timers are unref'd: keep the process alive while real-time runs wait.
  const keepAlive = setInterval(() => {}, 1_000);
  const naiveToo = !process.argv.includes("--no-naive");
  for (const real of [false, true]) {
    results.push(await runSmart(real, undefined, p));
    results.push(await runSmart(real, 8, p));
    results.push(await runReference(real, p, "minimal"));
    if (naiveToo) results.push(await runReference(real, p, "naive"));
  }
  clearInterval(keepAlive);
  const reference = new Map(
    results.filter((r) => r.label.startsWith("minimal")).map((r) => [r.clock, r.elapsedMs]),
  );
  const header = [
    "run",
    "clock",
    "orders",
    "REST calls",
    "REST/order",
    "elapsed",
    "vs bound",
    "vs run bound",
    "vs minimal",
    "wall (CPU+wait)",
    "turnover",
  ];
  const rows = results.map((r) => [
    r.label,
    r.clock,
    String(r.orders),
    String(r.restCalls),
    (r.restCalls / Math.max(1, r.orders)).toFixed(2),
    `${r.elapsedMs} ms`,
    `${(r.elapsedMs / lowerBound).toFixed(2)}x`,
    `${(r.elapsedMs / runBound).toFixed(2)}x`,
    `${(r.elapsedMs / (reference.get(r.clock) ?? Number.NaN)).toFixed(2)}x`,
    `${r.wallMs.toFixed(0)} ms`,
    `$${r.turnover.toFixed(0)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (c: string[]) =>
    c.map((x, i) => (i < 2 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join("  ");
  console.log(`${SYMBOLS} symbols, REST ${REST_MS} ms, fills ${FILL_MS} ms after acceptance.`);
  console.log(`Critical-path lower bound (sell phase + account read + buy phase): ${lowerBound} ms.`);
  console.log(
    `Run bound (the same + the first read + the read that checks the positions): ${runBound} ms.\n`,
  );
  console.log(fmt(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(fmt(r));
  console.log(
    "\nelapsed: time on the run's clock; wall: real time the process spent (virtual runs: CPU only).",
  );
  console.log("--no-naive leaves the naive run out (35 s of real time).");
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
