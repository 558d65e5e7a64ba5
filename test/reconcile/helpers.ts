import {
  Decimal,
  isFinalBrokerStatus,
  type OrderSnapshot,
  PositionBook,
  PositionReconciliationEngine,
} from "ordersafe";
import { createSimulatedBroker, type SimulatedBroker, VirtualClock } from "ordersafe/testing";

export interface Setup {
  clock: VirtualClock;
  broker: SimulatedBroker;
  engine: PositionReconciliationEngine;
  book: PositionBook;
}

/** A simulated account holding FNGU (the incident's position), with 50 ms REST and 200 ms fills. */
export function setup(
  options: {
    confirmReads?: number;
    book?: Record<string, string>;
    settleMs?: number;
    settleTimeoutMs?: number;
  } = {},
): Setup {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 100_000,
    positions: { FNGU: "1591.166892" },
    prices: { FNGU: 33.05, TECL: 52.6, BIL: 91.5, XYZ: 20 },
    latency: { restMs: 50, fillMs: 200, streamMs: 10 },
  });
  const book = new PositionBook(options.book ?? { FNGU: "1591.166892" });
  const engine = new PositionReconciliationEngine({
    broker,
    clock,
    book,
    ...(options.confirmReads === undefined ? {} : { confirmReads: options.confirmReads }),
    ...(options.settleMs === undefined ? {} : { settleMs: options.settleMs }),
    ...(options.settleTimeoutMs === undefined ? {} : { settleTimeoutMs: options.settleTimeoutMs }),
  });
  broker.subscribeOrderUpdates({ onUpdate: (u) => engine.applyOrderUpdate(u) });
  return { clock, broker, engine, book };
}

/** Submits a market order and waits (on the virtual clock) until the broker has it final. */
export async function trade(
  s: Setup,
  symbol: string,
  side: "buy" | "sell",
  qty: string,
  id: string,
): Promise<OrderSnapshot> {
  const submitted = await s.clock.run(
    s.broker.submitOrder({
      clientOrderId: id,
      symbol,
      side,
      type: "market",
      timeInForce: "day",
      qty: new Decimal(qty),
    }),
  );
  s.engine.trackOrder(submitted);
  return s.clock.run(async () => {
    for (;;) {
      const o = s.broker.findOrder(submitted.id);
      if (o !== undefined && isFinalBrokerStatus(o.status)) {
        await s.clock.sleep(50); // let the stream deliver the last update
        return o;
      }
      await s.clock.sleep(10);
    }
  });
}
