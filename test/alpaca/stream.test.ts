import { Decimal, type OrderUpdate, type StreamStatus } from "ordersafe";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogger, type LogLine, type Rig, startRig, until } from "./fake-alpaca.js";

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

function listen(r: Rig) {
  const updates: OrderUpdate[] = [];
  const statuses: StreamStatus[] = [];
  const sub = r.broker.subscribeOrderUpdates({
    onUpdate: (u) => updates.push(u),
    onStatus: (s) => statuses.push(s),
  });
  return { updates, statuses, sub };
}

describe("trade updates through the SDK's TradingStream", () => {
  it("connects, sends exactly one listen, and maps new and fill with this fill's qty and price", async () => {
    rig = await startRig({ latency: { fillMs: 20 } });
    const { updates, statuses, sub } = listen(rig);
    expect(statuses).toEqual([]); // nothing happens inside subscribe
    await until(() => statuses.includes("connected"));
    expect(statuses).toEqual(["connecting", "connected"]);
    expect(rig.server.streamClients()).toBe(1);

    const o = await rig.broker.submitOrder({
      clientOrderId: "s-1",
      symbol: "SPY",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal("0.5"),
    });
    await until(() => updates.some((u) => u.event === "fill"));
    const fill = updates.find((u) => u.event === "fill") as OrderUpdate;
    expect(updates[0]?.event).toBe("new");
    expect(fill.order.id).toBe(o.id);
    expect(fill.order.status).toBe("filled");
    expect(fill.fill?.qty.toString()).toBe("0.5");
    expect(fill.fill?.price.toString()).toBe("500");
    expect(fill.fill?.executionId).toBeTruthy();
    sub.close();
    await until(() => rig?.server.streamClients() === 0);
  });

  it("a stream drop mid-flow: disconnected → reconnecting → connected, and REST catches up on what was missed", async () => {
    rig = await startRig({ latency: { fillMs: 30 } });
    const { updates, statuses, sub } = listen(rig);
    await until(() => statuses.includes("connected"));

    rig.server.dropStream();
    // Placed while the stream is down: its updates are lost (Alpaca replays nothing).
    const o = await rig.broker.submitOrder({
      clientOrderId: "s-2",
      symbol: "QQQ",
      side: "buy",
      type: "market",
      timeInForce: "day",
      notional: new Decimal(100),
    });
    await until(() => statuses.filter((s) => s === "connected").length === 2);
    expect(statuses).toEqual(["connecting", "connected", "disconnected", "reconnecting", "connected"]);

    // Catch-up after the reconnect: re-read the order and the open orders by REST.
    await until(async () => (await rig?.broker.getOrder(o.id))?.status === "filled");
    expect(await rig.broker.listOpenOrders()).toEqual([]);
    const caught = await rig.broker.getOrder(o.id);
    expect(caught?.filledQty.toString()).toBe("0.25");

    // And updates flow again after the reconnect.
    const before = updates.length;
    await rig.broker.submitOrder({
      clientOrderId: "s-3",
      symbol: "SPY",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(1),
    });
    await until(() =>
      updates.slice(before).some((u) => u.event === "fill" && u.order.clientOrderId === "s-3"),
    );
    sub.close();
  });

  it("a simulated stream disconnect closes the socket and the adapter reports it", async () => {
    rig = await startRig({ latency: { fillMs: 10 } });
    const { statuses, sub } = listen(rig);
    await until(() => statuses.includes("connected"));
    rig.server.broker.disconnectStream(50);
    await until(() => statuses.includes("reconnecting") && statuses.at(-1) === "connected");
    expect(statuses.slice(0, 3)).toEqual(["connecting", "connected", "disconnected"]);
    sub.close();
  });

  it("many subscribers share one connection; the last close disconnects it", async () => {
    rig = await startRig();
    const a = listen(rig);
    const b = listen(rig);
    await until(() => a.statuses.includes("connected") && b.statuses.includes("connected"));
    expect(rig.server.streamClients()).toBe(1);
    a.sub.close();
    expect(rig.server.streamClients()).toBe(1);
    b.sub.close();
    await until(() => rig?.server.streamClients() === 0);
  });

  it("a trade update the mapping cannot read is dropped and logged; later ones still arrive", async () => {
    const lines: LogLine[] = [];
    rig = await startRig({ latency: { fillMs: 10 } }, { logger: captureLogger(lines) });
    const { updates, statuses, sub } = listen(rig);
    await until(() => statuses.includes("connected"));
    const o = await rig.broker.submitOrder({
      clientOrderId: "s-4",
      symbol: "SPY",
      side: "buy",
      type: "market",
      timeInForce: "day",
      qty: new Decimal(1),
    });
    await until(() => updates.some((u) => u.event === "fill"));
    const count = updates.length;
    const good = (await rig.broker.getOrder(o.id)) as NonNullable<
      Awaited<ReturnType<typeof rig.broker.getOrder>>
    >;
    const wire = {
      id: good.id,
      client_order_id: "s-4",
      symbol: "SPY",
      side: "buy",
      type: "market",
      time_in_force: "day",
      qty: "1",
      filled_qty: "1",
      updated_at: new Date().toISOString(),
    };
    rig.server.sendStreamFrame({
      stream: "trade_updates",
      data: { event: "fill", order: { ...wire, status: "teleported" }, qty: "1", price: "500" },
    });
    rig.server.sendStreamFrame({
      stream: "trade_updates",
      data: { event: "warped", order: { ...wire, status: "filled" } },
    });
    rig.server.sendStreamFrame({
      stream: "trade_updates",
      data: { event: "fill", order: { ...wire, status: "filled" } },
    });
    rig.server.sendStreamFrame({
      stream: "trade_updates",
      data: { event: "canceled", order: { ...wire, status: "canceled" } },
    });
    await until(() => updates.length === count + 1);
    expect(updates.at(-1)?.event).toBe("canceled");
    expect(lines.filter((l) => l.level === "warn").length).toBeGreaterThanOrEqual(3);
    sub.close();
  });
});
