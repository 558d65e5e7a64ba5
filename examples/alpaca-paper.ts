// Reads an Alpaca paper account through ordersafe and, only with --execute, places one small
// notional buy. Keys come from the environment, never from this file:
//
//   APCA_API_KEY_ID=... APCA_API_SECRET_KEY=... npx tsx examples/alpaca-paper.ts [SYMBOL] [--execute]
//
// Without --execute (the default) it is a dry run: it reads and prints, and sends no order.
import { Decimal, isBrokerError } from "ordersafe";
import { createAlpacaBroker } from "ordersafe/alpaca";

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const execute = args.includes("--execute");
  const symbol = args.find((a) => !a.startsWith("--")) ?? "SPY";

  // paper: true is the default; live trading would need paper: false and allowLive: true.
  const broker = createAlpacaBroker({ paper: true, logger: console });

  const [account, positions, clock, prices, assets] = await Promise.all([
    broker.getAccount(),
    broker.getPositions(),
    broker.getClock(),
    broker.getLatestPrices([symbol]),
    broker.getAssets([symbol]),
  ]);
  console.log("cash", account.cash.toFixed(2), "buying power", account.buyingPower.toFixed(2));
  for (const p of positions)
    console.log("position", p.symbol, p.qty.toFixed(), "available", p.qtyAvailable.toFixed());
  console.log("market open", clock.isOpen, "next open", clock.nextOpen.toISOString());
  console.log(symbol, "last trade", prices.get(symbol)?.toFixed() ?? "none", "rules", assets[0]);

  if (!execute) {
    console.log("dry run: no order sent (pass --execute to buy $5 of", symbol, "on paper)");
    return;
  }
  const done = new Promise<void>((resolve) => {
    const sub = broker.subscribeOrderUpdates({
      onUpdate(u) {
        console.log("update", u.event, u.order.status, u.fill ? `${u.fill.qty} @ ${u.fill.price}` : "");
        if (["filled", "canceled", "rejected", "expired"].includes(u.order.status)) {
          sub.close();
          resolve();
        }
      },
      onStatus: (s) => console.log("stream", s),
    });
  });
  try {
    const order = await broker.submitOrder({
      clientOrderId: `example-${Date.now()}`,
      symbol,
      side: "buy",
      type: "market",
      timeInForce: "day",
      notional: new Decimal(5),
    });
    console.log("submitted", order.id, order.status);
    await done;
  } catch (e) {
    if (isBrokerError(e)) console.error("refused:", e.code, e.message);
    else throw e;
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
