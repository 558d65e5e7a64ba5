// npm run demo — replays the trading day that ordersafe exists for, on the simulated broker
// and a virtual clock (deterministic: the same table every run), twice:
//   1. "the old way": liquidate and rebuy, positions cached at the start, buys sized from a
//      stale account, an order with no fill event by the timeout marked failed;
//   2. ordersafe's SmartRebalancer.
// Same account, same prices, same fault: the FNGU fill is never delivered on the stream.

import {
  type BrokerPort,
  Decimal,
  formatReport,
  isBrokerError,
  type OrderSnapshot,
  REBALANCE_DEFAULTS,
  SmartRebalancer,
} from "ordersafe";
import { createSimulatedBroker, type SimulatedBroker, VirtualClock } from "ordersafe/testing";

const TARGETS = { FNGU: 0.5, TECL: 0.5 } as const;
const PRICES = { FNGU: "33.05", TECL: "52.60" };

function setup(): { clock: VirtualClock; broker: SimulatedBroker } {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    seed: 2025,
    cash: "3432.62",
    positions: { FNGU: "1591.166892" },
    prices: PRICES,
    latency: { restMs: 50, fillMs: 200 },
  });
  // The incident: the fill of the first order never reaches the stream.
  broker.script({ kind: "stream_drop", times: 2 });
  return { clock, broker };
}

interface Row {
  approach: string;
  orders: number;
  turnover: Decimal;
  roundTrips: number;
  rejections: number;
  filledButCalledFailed: number;
  drift: Decimal;
  timeMs: number;
}

/** The bot before ordersafe, reduced to its mistakes. */
async function naiveBot(broker: BrokerPort, clock: VirtualClock, log: (s: string) => void): Promise<number> {
  const filled = new Set<string>();
  const sub = broker.subscribeOrderUpdates({
    onUpdate: (u) => {
      if (u.event === "fill") filled.add(u.order.clientOrderId);
    },
  });
  let n = 0;
  let calledFailed = 0;
  const submit = async (
    symbol: string,
    side: "buy" | "sell",
    qty: Decimal,
  ): Promise<OrderSnapshot | null> => {
    try {
      return await broker.submitOrder({
        clientOrderId: `naive-${++n}`,
        symbol,
        side,
        type: "market",
        timeInForce: "day",
        qty,
      });
    } catch (e) {
      // The broker's refusal, as the old bot logged it (ordersafe was not there to wrap it).
      const reason = isBrokerError(e) ? e.message.replace(/^\[ordersafe\]\s*/, "") : String(e);
      log(`  error   ${side} ${symbol} ${qty.toFixed()}: the broker refused: ${reason}`);
      return null;
    }
  };
  const waitForFill = async (order: OrderSnapshot, timeoutMs: number): Promise<boolean> => {
    const until = clock.now() + timeoutMs;
    while (clock.now() < until) {
      if (filled.has(order.clientOrderId)) return true;
      await clock.sleep(100);
    }
    log(`  warning ${order.side} ${order.symbol}: no fill event within ${timeoutMs / 1000} s; marked failed`);
    calledFailed++;
    return false;
  };

  // Read once, trust forever.
  const cachedPositions = await broker.getPositions();
  const cachedAccount = await broker.getAccount();
  const prices = await broker.getLatestPrices(Object.keys(TARGETS));

  // Liquidate everything, then rebuy the targets.
  for (const p of cachedPositions) {
    const order = await submit(p.symbol, "sell", p.qty);
    if (order !== null && !(await waitForFill(order, 5_000))) {
      // "It failed": sell again, from the cached position.
      const again = await submit(p.symbol, "sell", new Decimal(711));
      if (again === null) log(`  warning no position to sell for ${p.symbol}`);
    }
  }
  // Buys sized from the account read before the sells, plus what the sells "should" bring.
  const equity = cachedAccount.equity;
  for (const [symbol, weight] of Object.entries(TARGETS)) {
    const price = prices.get(symbol) as Decimal;
    const qty = equity.times(weight).div(price).floor();
    const order = await submit(symbol, "buy", qty);
    if (order !== null) await waitForFill(order, 5_000);
  }
  sub.close();
  return calledFailed;
}

function summarize(
  approach: string,
  broker: SimulatedBroker,
  startedAt: number,
  endedAt: number,
  calledFailed: number,
): Row {
  const orders = broker.orders();
  const turnover = orders.reduce(
    (a, o) => a.plus(o.filledQty.times(o.filledAvgPrice ?? new Decimal(0))),
    new Decimal(0),
  );
  const sold = new Set(orders.filter((o) => o.side === "sell" && o.filledQty.gt(0)).map((o) => o.symbol));
  const bought = new Set(orders.filter((o) => o.side === "buy" && o.filledQty.gt(0)).map((o) => o.symbol));
  const rejections = broker.eventLog().filter((e) => e.type === "refused").length;
  const truth = broker.truth();
  const equity = [...truth.positions].reduce(
    (a, [s, q]) => a.plus(q.times(PRICES[s as keyof typeof PRICES])),
    truth.cash,
  );
  let drift = new Decimal(0);
  for (const [symbol, weight] of Object.entries(TARGETS)) {
    const value = (truth.positions.get(symbol) ?? new Decimal(0)).times(
      PRICES[symbol as keyof typeof PRICES],
    );
    drift = drift.plus(value.minus(equity.times(weight)).abs());
  }
  return {
    approach,
    orders: orders.length,
    turnover,
    roundTrips: [...sold].filter((s) => bought.has(s)).length,
    rejections,
    filledButCalledFailed: calledFailed,
    drift,
    timeMs: endedAt - startedAt,
  };
}

/** Dollars with thousands separators: $28,133.41. */
function money(d: Decimal): string {
  const [whole, cents] = d.abs().toFixed(2).split(".");
  return `${d.isNegative() ? "-" : ""}$${(whole ?? "0").replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${cents}`;
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const log = (s: string) => lines.push(s);

  const old = setup();
  const oldStart = old.clock.now();
  const calledFailed = await old.clock.run(naiveBot(old.broker, old.clock, log));
  const oldRow = summarize("the old way", old.broker, oldStart, old.clock.now(), calledFailed);

  const safe = setup();
  const rebalancer = new SmartRebalancer({
    broker: safe.broker,
    clock: safe.clock,
    tracker: { quietAfterMs: 2_000 },
  });
  rebalancer.on("order:final", ({ outcome }) =>
    log(
      `  ordersafe ${outcome.side} ${outcome.symbol}: ${outcome.state} ${outcome.filledQty.toFixed(4)} @ ${outcome.avgPrice?.toFixed(2) ?? "-"}`,
    ),
  );
  const safeStart = safe.clock.now();
  const report = await safe.clock.run(
    rebalancer.rebalance({ weights: TARGETS }, { runId: "demo-2025-08-07" }),
  );
  const safeRow = summarize("ordersafe", safe.broker, safeStart, safe.clock.now(), 0);

  console.log("Replaying the incident: FNGU 1,591.166892 sh, $3,432.62 cash, target FNGU 50% / TECL 50%;");
  console.log("the fill of the first order is never delivered on the stream.\n");
  console.log("Log:");
  for (const l of lines) console.log(l);
  console.log("");
  const header = [
    "",
    "orders",
    "turnover",
    "round trips",
    "rejections",
    "filled but 'failed'",
    "off target",
    "time",
  ];
  const rows = [oldRow, safeRow].map((r) => [
    r.approach,
    String(r.orders),
    money(r.turnover),
    String(r.roundTrips),
    String(r.rejections),
    String(r.filledButCalledFailed),
    money(r.drift),
    `${(r.timeMs / 1000).toFixed(2)} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ");
  console.log(fmt(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(fmt(r));
  console.log("");
  console.log(
    `ordersafe: status ${report.status}; ${money(oldRow.turnover.minus(safeRow.turnover))} less turnover than the old way; ${report.metrics.restCalls} REST calls.`,
  );
  console.log(
    `"off target": dollars away from the target weights at the end. ordersafe's ${money(safeRow.drift)} is the cash it keeps on purpose (the planner's ${REBALANCE_DEFAULTS.cashBuffer.times(100).toFixed()}% cash buffer).`,
  );
  console.log("(virtual clock: 50 ms REST latency, fills 200 ms after acceptance)");
  console.log("");
  console.log(formatReport(report));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
