import { type OrderUpdate, parseAccountSnapshot } from "ordersafe";
import {
  createSimulatedBroker,
  type SimEvent,
  type SimulatedBroker,
  type SimulatedBrokerOptions,
  VirtualClock,
} from "ordersafe/testing";
import { describe, expect, it } from "vitest";
import { req } from "./helpers.js";

// Position and account reads that lag fills like a broker's: the `readLag` option per
// endpoint and the `read_lag` fault. Order reads stay current.

function setup(extra: SimulatedBrokerOptions = {}) {
  const clock = new VirtualClock();
  const broker = createSimulatedBroker({
    clock,
    cash: 10_000,
    prices: { SPY: 100, TECL: 50 },
    positions: { TECL: 10 },
    ...extra,
  });
  return { clock, broker };
}

const lagEvents = (broker: SimulatedBroker) =>
  broker.eventLog().filter((e) => e.type === "fault" && e.kind === "read_lag");

/** Sells the 10 TECL at t0 + 1000 (filled at once); returns t0 + 1000. */
async function sellAll(clock: VirtualClock, broker: SimulatedBroker): Promise<number> {
  await clock.advance(1000);
  const soldAt = clock.now();
  const o = await broker.submitOrder(req("sell", "TECL", { qty: 10 }));
  await clock.runUntilIdle();
  expect(broker.findOrder(o.id)?.status).toBe("filled");
  return soldAt;
}

describe("option readLag", () => {
  it("every read of a lagging endpoint answers with the whole state as of the delay ago", async () => {
    const lag = { minMs: 500, maxMs: 500 };
    const { clock, broker } = setup({ readLag: { getAccount: lag, getPositions: lag, getPosition: lag } });
    const soldAt = await sellAll(clock, broker);
    await clock.advance(100 - (clock.now() - soldAt));
    expect((await broker.getPositions()).map((p) => [p.symbol, p.qty.toString()])).toEqual([["TECL", "10"]]);
    expect((await broker.getPosition("TECL"))?.qtyAvailable.toString()).toBe("10");
    const account = parseAccountSnapshot(await broker.getAccount());
    expect([account.cash, account.buyingPower, account.equity].map(String)).toEqual([
      "10000",
      "10000",
      "10500",
    ]);
    // asOf is when the port read, not the moment the state is from.
    expect(account.asOf.getTime()).toBe(clock.now());
    await clock.advance(400);
    expect(await broker.getPositions()).toEqual([]);
    expect(await broker.getPosition("TECL")).toBeNull();
    expect((await broker.getAccount()).cash.toString()).toBe("10500");
    expect(broker.truth().cash.toString()).toBe("10500");
  });

  it("order reads stay current while positions lag", async () => {
    const { clock, broker } = setup({ readLag: { getPositions: { minMs: 2000, maxMs: 2000 } } });
    const updates: OrderUpdate[] = [];
    broker.subscribeOrderUpdates({ onUpdate: (u) => updates.push(u) });
    await clock.advance(1000);
    const o = await broker.submitOrder(req("sell", "TECL", { qty: 4 }));
    await clock.runUntilIdle();
    expect((await broker.getPositions())[0]?.qty.toString()).toBe("10");
    expect((await broker.getOrder(o.id))?.status).toBe("filled");
    expect((await broker.getOrderByClientOrderId(o.clientOrderId))?.filledQty.toString()).toBe("4");
    expect((await broker.listOrders({ status: "closed" }))[0]?.id).toBe(o.id);
    expect(updates.at(-1)?.event).toBe("fill");
    // Only the lagging endpoint lags.
    expect((await broker.getPosition("TECL"))?.qty.toString()).toBe("6");
  });

  it("draws whole-ms delays in the range, logs each with its delay, and replays from the seed", async () => {
    const run = async () => {
      const { clock, broker } = setup({ seed: 3, readLag: { getPosition: { minMs: 40, maxMs: 1000 } } });
      for (let i = 0; i < 50; i++) {
        await broker.getPosition("TECL");
        await clock.advance(7);
      }
      await broker.getPositions();
      await broker.getAccount();
      return lagEvents(broker);
    };
    const events = await run();
    expect(events).toHaveLength(50);
    const delays = events.map((e) => e.ms as number);
    for (const e of events) expect(e).toMatchObject({ source: "option", method: "getPosition" });
    expect(delays.every((ms) => Number.isInteger(ms) && ms >= 40 && ms <= 1000)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThan(20);
    expect(await run()).toEqual(events);
  });

  it("shifts no other draw: the same seed fills and faults the same way with and without it", async () => {
    const run = async (readLag: SimulatedBrokerOptions["readLag"]) => {
      const { clock, broker } = setup({
        seed: 11,
        partialFills: { probability: 0.5, parts: 3 },
        latency: { restMs: 5, fillMs: 50 },
        faults: { unavailable: 0.2, stream_drop: 0.3, stale_reads: { probability: 0.3, ms: 200 } },
        ...(readLag === undefined ? {} : { readLag }),
      });
      broker.subscribeOrderUpdates({ onUpdate: () => {} });
      for (let i = 0; i < 6; i++) {
        await clock
          .run(broker.submitOrder(req("buy", "SPY", { qty: 3 }, { clientOrderId: `d-${i}` })))
          .catch(() => {});
        await clock.run(broker.getPositions()).catch(() => {});
        await clock.run(broker.getAccount()).catch(() => {});
        await clock.advance(100);
      }
      await clock.runUntilIdle();
      return broker.eventLog();
    };
    const withoutLag = await run(undefined);
    const withLag = await run({
      getPositions: { minMs: 0, maxMs: 300 },
      getAccount: { minMs: 10, maxMs: 20 },
    });
    const strip = (log: readonly SimEvent[]) =>
      log.filter((e) => !(e.type === "fault" && e.kind === "read_lag")).map(({ seq: _s, ...e }) => e);
    expect(withLag.length).toBeGreaterThan(withoutLag.length);
    expect(strip(withLag)).toEqual(strip(withoutLag));
  });

  it("off (the default): reads are current and nothing extra is logged", async () => {
    const { clock, broker } = setup();
    await sellAll(clock, broker);
    expect(await broker.getPositions()).toEqual([]);
    expect(broker.eventLog().filter((e) => e.type === "fault")).toEqual([]);
  });

  it("refuses a bad range or an unknown endpoint", () => {
    for (const readLag of [
      { getAccount: { minMs: 10, maxMs: 5 } },
      { getAccount: { minMs: -1, maxMs: 5 } },
      { getAccount: { minMs: 1 } },
      { getOrder: { minMs: 0, maxMs: 5 } },
    ]) {
      expect(() => setup({ readLag } as never), JSON.stringify(readLag)).toThrow(
        expect.objectContaining({ code: "validation" }),
      );
    }
  });
});

describe("fault read_lag", () => {
  it("scripted: the next matching reads lag by a delay drawn in the range, logged with it", async () => {
    const { clock, broker } = setup();
    await sellAll(clock, broker);
    broker.script({ kind: "read_lag", method: "getPositions", minMs: 300, maxMs: 600, times: 2 });
    expect(await broker.getPosition("TECL")).toBeNull();
    expect((await broker.getPositions())[0]?.qty.toString()).toBe("10");
    expect((await broker.getPositions())[0]?.qty.toString()).toBe("10");
    expect(await broker.getPositions()).toEqual([]);
    const events = lagEvents(broker);
    expect(events).toHaveLength(2);
    for (const e of events) {
      expect(e).toMatchObject({ source: "script", method: "getPositions" });
      expect(e.ms).toBeGreaterThanOrEqual(300);
      expect(e.ms).toBeLessThanOrEqual(600);
    }
  });

  it("scripted without a method: the next position or account read, and no other call", async () => {
    const { clock, broker } = setup();
    await sellAll(clock, broker);
    broker.script({ kind: "read_lag", minMs: 800, maxMs: 800 });
    await broker.listOpenOrders();
    await broker.getClock();
    expect((await broker.getAccount()).cash.toString()).toBe("10000");
    expect(lagEvents(broker)).toEqual([expect.objectContaining({ method: "getAccount", ms: 800 })]);
    expect((await broker.getAccount()).cash.toString()).toBe("10500");
  });

  it("seeded: a probability per read, with the range given or the default one", async () => {
    const { clock, broker } = setup({
      faults: { read_lag: { probability: 1, minMs: 200, maxMs: 250, method: "getAccount" } },
    });
    await sellAll(clock, broker);
    expect((await broker.getAccount()).cash.toString()).toBe("10000");
    expect(await broker.getPositions()).toEqual([]);
    expect(lagEvents(broker)).toEqual([expect.objectContaining({ source: "seed", method: "getAccount" })]);

    const d = setup({ faults: { read_lag: 1 } });
    for (let i = 0; i < 20; i++) await d.broker.getPositions();
    const delays = lagEvents(d.broker).map((e) => e.ms as number);
    expect(delays).toHaveLength(20);
    expect(delays.every((ms) => ms >= 0 && ms <= 1000)).toBe(true);

    const onlyMin = setup({ faults: { read_lag: { probability: 1, minMs: 5000 } } });
    await onlyMin.broker.getAccount();
    expect(lagEvents(onlyMin.broker)[0]?.ms).toBe(5000);
  });

  it("with the option and a stale_reads fault on the same read, the longest delay wins", async () => {
    const { clock, broker } = setup({ readLag: { getPositions: { minMs: 50, maxMs: 50 } } });
    const soldAt = await sellAll(clock, broker);
    await clock.advance(soldAt + 200 - clock.now());
    expect(await broker.getPositions()).toEqual([]);
    broker.script({ kind: "stale_reads", ms: 1_000, method: "getPositions" });
    expect((await broker.getPositions())[0]?.qty.toString()).toBe("10");
    broker.script({ kind: "read_lag", minMs: 10, maxMs: 10 });
    expect(await broker.getPositions()).toEqual([]);
    broker.script({ kind: "read_lag", minMs: 900, maxMs: 900 });
    expect((await broker.getPositions())[0]?.qty.toString()).toBe("10");
  });

  it("refuses a bad scripted or seeded read_lag", () => {
    const { broker } = setup();
    for (const bad of [
      { kind: "read_lag", minMs: 10, maxMs: 5 },
      { kind: "read_lag", minMs: 10 },
      { kind: "read_lag", minMs: 0, maxMs: 5, method: "getOrder" },
    ]) {
      expect(() => broker.script(bad as never), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: "validation" }),
      );
    }
    expect(() => setup({ faults: { read_lag: { probability: 1, minMs: 9, maxMs: 1 } } })).toThrow(
      expect.objectContaining({ code: "validation" }),
    );
  });
});
